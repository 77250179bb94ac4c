from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from piaowu.checkin import service as checkin
from piaowu.checkin.models import Scan
from piaowu.checkin.schemas import ScanIn
from piaowu.core.actor import Actor, ActorKind
from piaowu.core.errors import PermissionDenied
from tests.factories import owner_actor
from tests.ticket_fixtures import at_the_door, issue_paid


async def _scan(rt, actor, raw, gate="North", sessions=()):  # noqa: ANN001, ANN202
    async with rt.uow() as uow:
        out = await checkin.scan(uow, actor, ScanIn(raw=raw, gate=gate, session_ids=list(sessions)))
        await uow.commit()
    return out


async def test_admit_once_then_say_when_and_where(runtime, tenant, clock):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor, holder_name="王五")
    at_the_door(runtime, issued)
    first = await _scan(runtime, actor, issued.ticket.qr_payload, gate="North 1", sessions=[issued.sale.session_id])
    assert first.result == "admitted" and first.admitted
    assert first.ticket.code == issued.ticket.code and first.ticket.entries_used == 1
    assert first.ticket.event_name and first.ticket.holder_name == "王五"
    entered_at = clock.now()
    clock.advance(timedelta(minutes=3))
    again = await _scan(runtime, actor, issued.ticket.code, gate="South")  # typed this time
    assert again.result == "already_checked_in" and not again.admitted
    assert again.previous.gate == "North 1" and again.previous.at == entered_at


async def test_multi_entry_pass(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor, entries_allowed=2)
    at_the_door(runtime, issued)
    results = [(await _scan(runtime, actor, issued.ticket.qr_payload)).result for _ in range(3)]
    assert results == ["admitted", "admitted", "already_checked_in"]


async def test_every_scan_is_recorded_and_counted(runtime, tenant, clock):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor, n=3)
    sid = issued.sale.session_id
    at_the_door(runtime, issued)
    since = clock.now()
    await _scan(runtime, actor, issued.tickets[0].qr_payload, gate="A")
    clock.advance(timedelta(seconds=1))
    await _scan(runtime, actor, issued.tickets[0].qr_payload, gate="B")
    clock.advance(timedelta(seconds=1))
    await _scan(runtime, actor, "NOT-A-TICKET-AT-ALL", gate="A")
    clock.advance(timedelta(seconds=1))
    await _scan(runtime, actor, issued.tickets[1].code, gate="A")
    async with runtime.uow(readonly=True) as uow:
        assert (await uow.session.execute(select(func.count()).select_from(Scan))).scalar_one() == 4
        stats = await checkin.counts(uow, actor, [sid], since=since)
        assert (stats.tickets, stats.checked_in, stats.scans_admitted, stats.scans_rejected) == (3, 2, 2, 1)
        everything = await checkin.counts(uow, actor)
        assert everything.scans_rejected == 2  # the invalid scan has no session: counted organizer-wide only
        later = await checkin.counts(uow, actor, [sid], since=clock.now() + timedelta(seconds=1))
        assert later.scans_admitted == 0 and later.checked_in == 2
        recent = await checkin.recent_scans(uow, actor, 10, gate="A")
        assert [r.result for r in recent] == ["admitted", "invalid_ticket", "admitted"]
        assert recent[0].ticket_code == issued.tickets[1].code and recent[1].ticket_code is None
        assert len(await checkin.recent_scans(uow, actor, 2)) == 2


async def test_refunded_ticket_is_refused_even_after_entry(runtime, tenant):
    from piaowu.tickets import service as tickets

    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor)
    at_the_door(runtime, issued)
    assert (await _scan(runtime, actor, issued.ticket.qr_payload)).admitted
    async with runtime.uow() as uow:
        await tickets.void_tickets(uow, actor, tenant.organizer_id, issued.line_ids)
        await uow.commit()
    assert (await _scan(runtime, actor, issued.ticket.qr_payload)).result == "refunded"


async def test_another_organizers_ticket_is_invalid_and_reveals_nothing(runtime, tenant, other_tenant):
    mine = await owner_actor(runtime, tenant.owner_id)
    theirs = await owner_actor(runtime, other_tenant.owner_id)
    issued = await issue_paid(runtime, mine)
    at_the_door(runtime, issued)
    for raw in (issued.ticket.qr_payload, issued.ticket.code):
        out = await _scan(runtime, theirs, raw)
        assert out.result == "invalid_ticket" and out.ticket is None and out.previous is None
    # and my ticket is still unused
    assert (await _scan(runtime, mine, issued.ticket.code)).admitted


async def test_scanning_needs_the_checkin_permission(runtime, tenant):
    clerk = Actor(kind=ActorKind.USER, organizer_id=tenant.organizer_id, id="x", permissions=frozenset({"order.read"}))
    async with runtime.uow() as uow:
        with pytest.raises(PermissionDenied):
            await checkin.scan(uow, clerk, ScanIn(raw="ABCDEFGH"))
        with pytest.raises(PermissionDenied):
            await checkin.counts(uow, clerk)
