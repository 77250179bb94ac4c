"""Tickets grant entitlements (SQLite and PostgreSQL): a combo pass over three attractions, a ten-entry card, a
"2 days out of 7" pass; each part is redeemed on its own, the gate says which one, a gate the pass does not cover
refuses it, a pass with any part used is a used ticket for refunds, and tickets signed before passes still pass.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from piaowu.checkin import service as checkin
from piaowu.checkin.schemas import ScanIn, ScanOut
from piaowu.core.errors import DomainError
from piaowu.orders import payment_flow
from piaowu.orders.refunds import refund_order
from piaowu.orders.schemas import CashPaymentIn, RefundIn
from piaowu.organizers import keys
from piaowu.organizers import service as organizers
from piaowu.tickets import printing, signing
from piaowu.tickets import service as tickets
from tests.concurrency.ledger import in_uow
from tests.factories import owner_actor, pending_order
from tests.ticket_fixtures import at_the_door, attractions, issue_paid, set_grants

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _scan(rt, actor, raw: str, sessions=(), gate: str = "North") -> ScanOut:  # noqa: ANN001
    return await in_uow(
        rt, lambda uow: checkin.scan(uow, actor, ScanIn(raw=raw, gate=gate, session_ids=list(sessions)))
    )


def _uses(out: ScanOut) -> list[tuple[int, int]]:
    return [(e.used, e.allowed) for e in out.ticket.entitlements]


async def test_a_combo_pass_admits_once_at_each_attraction_and_nowhere_else(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    a, b, c, elsewhere = await attractions(runtime, actor, 4)
    await set_grants(runtime, actor, a.ticket_type_id, *({"session_id": s.session_id} for s in (a, b, c)))
    issued = await issue_paid(runtime, actor, a)
    t = issued.ticket
    assert [e.session_id for e in t.entitlements] == [a.session_id, b.session_id, c.session_id]
    assert t.entries_allowed == 3 and t.entries_used == 0
    claims = signing.verify(await _verifier(runtime, tenant), t.qr_payload)
    assert claims.covers == tuple(f"s:{s.session_id}" for s in (a, b, c))  # one QR code for the whole pass
    at_the_door(runtime, issued)

    at_b = await _scan(runtime, actor, t.qr_payload, [b.session_id], gate="B gate")
    assert at_b.admitted and at_b.entitlement == 1 and _uses(at_b) == [(0, 1), (1, 1), (0, 1)]
    again = await _scan(runtime, actor, t.code, [b.session_id], gate="B side")
    assert again.result == "already_checked_in" and again.entitlement == 1 and again.previous.gate == "B gate"
    nowhere = await _scan(runtime, actor, t.qr_payload, [elsewhere.session_id])
    assert nowhere.result == "not_covered" and not nowhere.admitted and nowhere.entitlement is None
    assert (await _scan(runtime, actor, t.qr_payload, [a.session_id])).entitlement == 0
    last = await _scan(runtime, actor, t.qr_payload, [c.session_id, elsewhere.session_id])
    assert last.admitted and last.entitlement == 2 and _uses(last) == [(1, 1), (1, 1), (1, 1)]
    assert last.ticket.entries_used == 3
    # A gate admitting every session takes the first part still usable; none is left.
    assert (await _scan(runtime, actor, t.qr_payload)).result == "already_checked_in"
    # Each attraction's gate counts the pass among its tickets and its check-ins; the organizer counts it once.
    async with runtime.uow(readonly=True) as uow:
        at_b_gate = await checkin.counts(uow, actor, [b.session_id])
        at_elsewhere = await checkin.counts(uow, actor, [elsewhere.session_id])
        everywhere = await checkin.counts(uow, actor)
    assert (at_b_gate.tickets, at_b_gate.checked_in) == (1, 1)
    assert (at_elsewhere.tickets, at_elsewhere.checked_in) == (0, 0)
    assert (everywhere.tickets, everywhere.checked_in) == (1, 1)


async def test_a_plain_ticket_at_another_session_is_still_wrong_session(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    a, b = await attractions(runtime, actor, 2)
    issued = await issue_paid(runtime, actor, a)
    at_the_door(runtime, issued)
    assert (await _scan(runtime, actor, issued.ticket.code, [b.session_id])).result == "wrong_session"


async def test_a_ten_entry_card(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    (a,) = await attractions(runtime, actor, 1)
    await set_grants(runtime, actor, a.ticket_type_id, {"session_id": a.session_id, "allowed": 10})
    issued = await issue_paid(runtime, actor, a)
    at_the_door(runtime, issued)
    results = [(await _scan(runtime, actor, issued.ticket.qr_payload)).result for _ in range(11)]
    assert results == ["admitted"] * 10 + ["already_checked_in"]


def _local(day: datetime, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


async def test_two_days_out_of_seven(runtime, tenant, clock):
    """Entering on a new day counts it; re-entry on a counted day is free (out for lunch, back in); a third day
    is refused; outside the seven days nothing is admitted."""
    actor = await owner_actor(runtime, tenant.owner_id)
    (park,) = await attractions(runtime, actor, 1)
    grant = {"event_id": park.event_id, "mode": "days", "allowed": 2, "window_days": 7}
    await set_grants(runtime, actor, park.ticket_type_id, grant)
    issued = await issue_paid(runtime, actor, park)
    (e,) = issued.ticket.entitlements
    first = issued.starts_at.astimezone(SHANGHAI)
    assert (e.valid_from, e.valid_until) == (
        _local(first, 0),
        _local(first + timedelta(days=7), 0) - timedelta(microseconds=1),
    )
    gate = [park.session_id]  # a gate of the park: its session's event is the pass's target

    clock.set(_local(first - timedelta(days=1), 10))
    assert (await _scan(runtime, actor, issued.ticket.code, gate)).result == "not_yet_valid"
    clock.set(_local(first, 10))
    day1 = await _scan(runtime, actor, issued.ticket.code, gate)
    assert day1.admitted and not day1.reentry and _uses(day1) == [(1, 2)]
    clock.set(_local(first, 14))
    lunch = await _scan(runtime, actor, issued.ticket.code, gate)
    assert lunch.admitted and lunch.reentry and _uses(lunch) == [(1, 2)] and lunch.ticket.entries_used == 1
    clock.set(_local(first + timedelta(days=3), 9))
    day4 = await _scan(runtime, actor, issued.ticket.code, gate)
    assert day4.admitted and not day4.reentry
    assert day4.ticket.entitlements[0].days_used == [
        first.date().isoformat(),
        (first + timedelta(days=3)).date().isoformat(),
    ]
    clock.set(_local(first + timedelta(days=3), 18))
    assert (await _scan(runtime, actor, issued.ticket.code, gate)).reentry
    clock.set(_local(first + timedelta(days=5), 9))
    refused = await _scan(runtime, actor, issued.ticket.code, gate)
    assert refused.result == "days_used_up" and refused.previous is not None and _uses(refused) == [(2, 2)]
    clock.set(_local(first + timedelta(days=7), 9))
    assert (await _scan(runtime, actor, issued.ticket.code, gate)).result == "expired"


async def test_grants_change_only_tickets_issued_afterwards(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    a, b = await attractions(runtime, actor, 2)
    before = await issue_paid(runtime, actor, a)
    await set_grants(runtime, actor, a.ticket_type_id, {"session_id": a.session_id}, {"session_id": b.session_id})
    after = await issue_paid(runtime, actor, a)
    async with runtime.uow(readonly=True) as uow:
        old = await tickets.get_by_code(uow, actor, before.ticket.code)
    assert len(old.entitlements) == 1 and len(after.ticket.entitlements) == 2


async def test_a_pass_with_any_part_used_is_a_used_ticket_for_refunds(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    a, b = await attractions(runtime, actor, 2)
    await set_grants(runtime, actor, a.ticket_type_id, {"session_id": a.session_id}, {"session_id": b.session_id})
    order = await pending_order(runtime, actor, a.ticket_type_id, 1)
    paid = await in_uow(runtime, lambda uow: payment_flow.pay_at_counter(uow, actor, order.id, CashPaymentIn()))
    ticket = paid.lines[0].ticket
    runtime.clock.set(runtime.clock.now() + timedelta(days=7) - timedelta(minutes=30))  # type: ignore[attr-defined]
    assert (await _scan(runtime, actor, ticket.code, [b.session_id])).entitlement == 1  # only the second part
    with pytest.raises(DomainError) as caught:
        await in_uow(runtime, lambda uow: refund_order(uow, actor, paid.id, RefundIn()))
    assert caught.value.code == "ticket_used"


async def test_a_ticket_signed_before_passes_still_passes_the_gate(runtime, tenant):
    """Its payload is the old PW1 format (one session, its entries): the gate finds the ticket by its code and
    judges its entitlement (carried forward by migration 0009)."""
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor)
    t = issued.ticket
    async with runtime.uow(readonly=True) as uow:
        private = keys.open_private_key(
            await organizers.sealed_signing_key(uow, tenant.organizer_id), runtime.secret_key
        )
    old = signing.sign(
        private,
        signing.TicketClaims(
            t.code,
            tenant.organizer_id,
            int(t.valid_from.timestamp()),
            int(t.valid_until.timestamp()),
            (f"s:{issued.sale.session_id}",),
            version=signing.V1,
            entries_allowed=1,
        ),
    )
    assert old.startswith("PW1.")
    at_the_door(runtime, issued)
    assert (await _scan(runtime, actor, old, [issued.sale.session_id])).admitted
    assert (await _scan(runtime, actor, old)).result == "already_checked_in"


async def _verifier(rt, tenant):  # noqa: ANN001, ANN202
    async with rt.uow(readonly=True) as uow:
        return await tickets.verifier(uow, tenant.organizer_id)


async def test_a_printed_pass_says_what_it_includes(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    a, b = await attractions(runtime, actor, 2)
    grants = ({"session_id": a.session_id}, {"event_id": b.event_id, "mode": "days", "allowed": 2, "window_days": 7})
    await set_grants(runtime, actor, a.ticket_type_id, *grants)
    issued = await issue_paid(runtime, actor, a)
    plain = await issue_paid(runtime, actor, b)
    async with runtime.uow(readonly=True) as uow:
        facts = printing.OrderFacts(issued.order_id, issued.order_code, "张三", "CNY", ())
        (pass_print,) = await printing.order_prints(uow, tenant.organizer_id, facts)
        facts = printing.OrderFacts(plain.order_id, plain.order_code, "张三", "CNY", ())
        (plain_print,) = await printing.order_prints(uow, tenant.organizer_id, facts)
    assert pass_print.includes == "景点0 Attraction 0 · Evening · 景点1 Attraction 1 2 天/days"
    assert plain_print.includes == ""
