from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from piaowu.audit.models import AuditEvent
from piaowu.core.errors import NotFound, ValidationFailed
from piaowu.organizers import keys
from piaowu.tickets import service as tickets
from piaowu.tickets import signing
from piaowu.tickets.models import Ticket
from piaowu.tickets.schemas import TicketSpec
from tests.factories import owner_actor
from tests.ticket_fixtures import issue_paid


async def _count(rt, model, *where) -> int:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        return (await uow.session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def test_issued_tickets_carry_a_payload_signed_by_their_organizer(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor, n=2, holder_name="李四")
    a, b = issued.tickets
    assert a.code != b.code and len(a.code) == 20 and a.status == "valid" and a.entries_used == 0
    async with runtime.uow(readonly=True) as uow:
        public = await tickets.public_key(uow, tenant.organizer_id)
    claims = signing.verify(keys.load_public_key(public), a.qr_payload)
    assert claims.code == a.code and claims.organizer_id == tenant.organizer_id
    assert claims.covers == (f"s:{issued.sale.session_id}",) and claims.version == "PW2"
    assert [(e.session_id, e.mode, e.allowed, e.used) for e in a.entitlements] == [
        (issued.sale.session_id, "entries", 1, 0)
    ]
    assert claims.valid_from == int((issued.starts_at - timedelta(minutes=120)).timestamp())
    assert claims.valid_until == int(issued.ends_at.timestamp())
    assert a.holder_name == "李四" and a.ticket_type_name == "A区 Zone A"
    assert await _count(runtime, AuditEvent, AuditEvent.action == "ticket.issued") == 2


async def test_issuing_again_returns_the_same_tickets(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor, n=2)
    specs = [
        TicketSpec(issued.order_id, line_id, issued.sale.session_id, issued.starts_at, issued.ends_at)
        for line_id in reversed(issued.line_ids)
    ]
    async with runtime.uow() as uow:
        again = await tickets.issue(uow, tenant.organizer_id, specs, runtime.secret_key)
        await uow.commit()
    assert [t.id for t in again] == [t.id for t in reversed(issued.tickets)]  # in the order asked for
    assert [t.qr_payload for t in again] == [t.qr_payload for t in reversed(issued.tickets)]
    assert await _count(runtime, Ticket) == 2
    assert await _count(runtime, AuditEvent, AuditEvent.action == "ticket.issued") == 2


async def test_bad_specs_are_refused(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor)
    bad = TicketSpec(issued.order_id, issued.line_ids[0], issued.sale.session_id, issued.ends_at, issued.starts_at)
    async with runtime.uow() as uow:
        with pytest.raises(ValidationFailed) as err:
            await tickets.issue(uow, tenant.organizer_id, [bad, bad], runtime.secret_key)
    codes = {e["code"] for e in err.value.errors}
    assert codes == {"before_start", "duplicate"}


async def test_tickets_are_read_per_order_and_per_organizer(runtime, tenant, other_tenant):
    mine = await owner_actor(runtime, tenant.owner_id)
    theirs = await owner_actor(runtime, other_tenant.owner_id)
    one = await issue_paid(runtime, mine, n=2)
    two = await issue_paid(runtime, mine, one.sale)
    async with runtime.uow(readonly=True) as uow:
        got = await tickets.tickets_for_orders(uow, tenant.organizer_id, [one.order_id, two.order_id, "nope"])
        assert {k: len(v) for k, v in got.items()} == {one.order_id: 2, two.order_id: 1}
        assert await tickets.tickets_for_orders(uow, other_tenant.organizer_id, [one.order_id]) == {}
        assert (await tickets.get_by_code(uow, mine, one.ticket.code.lower())).id == one.ticket.id
        with pytest.raises(NotFound):
            await tickets.get_by_code(uow, theirs, one.ticket.code)


async def test_voiding_marks_tickets_once_even_after_use(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor, n=2)
    async with runtime.uow() as uow:
        view = await tickets.load_for_gate(uow, tenant.organizer_id, issued.ticket.code)
        assert await tickets.redeem(uow, view, view.entitlements[0], "", "North")
        await uow.commit()
    async with runtime.uow() as uow:
        voided = await tickets.void_tickets(uow, actor, tenant.organizer_id, issued.line_ids, status="refunded")
        await uow.commit()
    assert {t.status for t in voided} == {"refunded"} and len(voided) == 2
    assert voided[0].entries_used + voided[1].entries_used == 1  # the entry stays on record
    async with runtime.uow() as uow:
        assert await tickets.void_tickets(uow, actor, tenant.organizer_id, issued.line_ids, status="void") == []
        with pytest.raises(ValidationFailed):
            await tickets.void_tickets(uow, actor, tenant.organizer_id, issued.line_ids, status="valid")
        await uow.commit()
    assert await _count(runtime, AuditEvent, AuditEvent.action == "ticket.voided") == 2


async def test_other_organizer_cannot_void_my_tickets(runtime, tenant, other_tenant):
    mine = await owner_actor(runtime, tenant.owner_id)
    theirs = await owner_actor(runtime, other_tenant.owner_id)
    issued = await issue_paid(runtime, mine)
    async with runtime.uow() as uow:
        assert await tickets.void_tickets(uow, theirs, other_tenant.organizer_id, issued.line_ids) == []
        await uow.commit()
    assert await _count(runtime, Ticket, Ticket.status == "valid") == 1


async def test_public_key_by_slug(runtime, tenant):
    async with runtime.uow(readonly=True) as uow:
        out = await tickets.public_key_for_slug(uow, tenant.slug)
        assert out.public_key == await tickets.public_key(uow, tenant.organizer_id)
        with pytest.raises(NotFound):
            await tickets.public_key_for_slug(uow, "no-such-org")
