"""A used ticket is not refundable by accident (SQLite and PostgreSQL).

A ticket admitted at a gate is refused (``ticket_used``) and nothing is written; with the override and a
written reason it is refunded and voided, the audit event keeps the reason, its place stays sold, and the
check-in figures still agree with the scans and the order lines.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from piaowu.audit.models import AuditEvent
from piaowu.catalog import views as catalog_views
from piaowu.checkin import service as checkin
from piaowu.checkin.models import Scan
from piaowu.checkin.schemas import ScanIn, ScanOut
from piaowu.core.errors import DomainError
from piaowu.db.outbox import OutboxMessage
from piaowu.inventory.models import Pool
from piaowu.orders import payment_flow
from piaowu.orders.models import Order, OrderLine
from piaowu.orders.refunds import refund_order
from piaowu.orders.schemas import CashPaymentIn, OrderOut, RefundIn
from piaowu.payments.models import Payment, Refund
from piaowu.reports import service as reports
from piaowu.tickets.models import Ticket
from tests.concurrency.ledger import assert_ledger, in_uow, pools_of
from tests.factories import OnSale, on_sale_session, owner_actor, pending_order


async def sold(rt, actor, n: int = 2) -> tuple[OnSale, OrderOut]:  # noqa: ANN001
    """A paid counter order of ``n`` tickets, the clock moved to the door of its session."""
    sale = await on_sale_session(rt, actor, capacity=10)
    order = await pending_order(rt, actor, sale.ticket_type_id, n)
    paid = await in_uow(rt, lambda uow: payment_flow.pay_at_counter(uow, actor, order.id, CashPaymentIn()))
    async with rt.uow(readonly=True) as uow:
        label = (await catalog_views.session_labels(uow, actor.organizer_id, [sale.session_id]))[sale.session_id]
    rt.clock.set(label.starts_at - timedelta(minutes=30))  # type: ignore[attr-defined]
    return sale, paid


async def scan(rt, actor, raw: str) -> ScanOut:  # noqa: ANN001
    return await in_uow(rt, lambda uow: checkin.scan(uow, actor, ScanIn(raw=raw, gate="North")))


async def snapshot(rt) -> dict:  # noqa: ANN001
    """Every row a refund writes, as plain values."""
    async with rt.uow(readonly=True) as uow:
        s = uow.session

        async def rows(*cols):  # noqa: ANN002, ANN202
            return sorted(tuple(r) for r in (await s.execute(select(*cols))).all())

        return {
            "orders": await rows(Order.id, Order.status, Order.refunded_minor),
            "lines": await rows(OrderLine.id, OrderLine.status),
            "tickets": await rows(Ticket.id, Ticket.status, Ticket.entries_used),
            "pools": await rows(Pool.id, Pool.held, Pool.sold),
            "payments": await rows(Payment.id, Payment.refunded_minor),
            "refunds": await rows(Refund.id),
            "audit": (await s.execute(select(func.count()).select_from(AuditEvent))).scalar_one(),
            "outbox": (await s.execute(select(func.count()).select_from(OutboxMessage))).scalar_one(),
        }


async def test_a_used_ticket_is_refused_with_ticket_used_and_nothing_is_written(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    _, order = await sold(runtime, actor)
    used, fresh = order.lines
    assert (await scan(runtime, actor, used.ticket.code)).admitted
    before = await snapshot(runtime)
    for wanted in (None, [used.id], [fresh.id, used.id]):
        with pytest.raises(DomainError) as caught:
            await in_uow(runtime, lambda uow, w=wanted: refund_order(uow, actor, order.id, RefundIn(line_ids=w)))
        assert caught.value.code == "ticket_used" and caught.value.status == 409
        assert caught.value.data == {"line_ids": [used.id], "ticket_codes": [used.ticket.code]}
        assert await snapshot(runtime) == before, "a refused refund wrote something"
    # the gate still knows the ticket as used, not refunded
    assert (await scan(runtime, actor, used.ticket.code)).result == "already_checked_in"
    # the unused ticket alone is refundable as before: money back, its place back on sale
    out = await in_uow(runtime, lambda uow: refund_order(uow, actor, order.id, RefundIn(line_ids=[fresh.id])))
    assert out.status == "partially_refunded" and out.refunded_minor == fresh.price_minor
    pools = {p: (held, n) for p, held, n in (await snapshot(runtime))["pools"]}
    assert all(n == 1 for _, n in pools.values())  # two sold, one given back


async def test_override_with_a_reason_refunds_keeps_the_place_sold_and_the_counts_agree(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale, order = await sold(runtime, actor, n=3)
    used, fresh, untouched = order.lines
    assert (await scan(runtime, actor, used.ticket.qr_payload)).admitted
    reason = "演出中途因暴雨取消 Show stopped by the storm"
    out = await in_uow(
        runtime,
        lambda uow: refund_order(
            uow, actor, order.id, RefundIn(line_ids=[used.id, fresh.id], allow_used=True, reason=reason)
        ),
    )
    assert out.status == "partially_refunded" and out.refunded_minor == used.price_minor + fresh.price_minor
    by_id = {line.id: line for line in out.lines}
    assert by_id[used.id].status == by_id[fresh.id].status == "refunded" and by_id[untouched.id].status == "active"
    assert by_id[used.id].ticket.status == "refunded" and by_id[used.id].ticket.entries_used == 1
    # refused at the gate from now on
    assert (await scan(runtime, actor, used.ticket.code)).result == "refunded"

    async with runtime.uow(readonly=True) as uow:
        (event,) = (
            await uow.session.execute(
                select(AuditEvent).where(AuditEvent.subject_id == order.id, AuditEvent.action == "order.refunded")
            )
        ).scalars()
        stats = await checkin.counts(uow, actor, [sale.session_id])
        board = await reports.dashboard(uow, actor)
        admitted = (
            await uow.session.execute(
                select(func.count()).select_from(Scan).where(Scan.result == "admitted", Scan.direction == "in")
            )
        ).scalar_one()
    assert event.after["reason"] == reason and event.after["allow_used"] is True
    assert event.after["used_lines"] == [used.id] and event.after["amount_minor"] == out.refunded_minor

    # one unit came back (the unused ticket), the used ticket's place stays sold: sold = 3 − 1
    books = await assert_ledger(runtime, await pools_of(runtime, sale.session_id))
    assert {b.sold for b in books.values()} == {2}
    # check-in figures: the entry is still counted (it happened), and agrees with the scans
    assert stats.checked_in == admitted == board.admitted == 1
    assert board.sales.refunded_minor == out.refunded_minor  # counter refunds complete at once
    assert stats.refunded_after_entry == 1
    active_lines = sum(1 for line in out.lines if line.status == "active")
    assert stats.tickets - stats.refunded_after_entry == active_lines == 1


async def test_without_the_override_a_refund_after_entry_would_have_broken_the_counts(runtime, tenant):
    """The figures the gate shows, before and after refusing: checked-in equals the admitted scans throughout."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale, order = await sold(runtime, actor, n=1)
    assert (await scan(runtime, actor, order.lines[0].ticket.code)).admitted
    with pytest.raises(DomainError, match="already used at a gate"):
        await in_uow(runtime, lambda uow: refund_order(uow, actor, order.id, RefundIn()))
    async with runtime.uow(readonly=True) as uow:
        stats = await checkin.counts(uow, actor, [sale.session_id])
    assert (stats.tickets, stats.checked_in, stats.scans_admitted, stats.refunded_after_entry) == (1, 1, 1, 0)


async def test_an_entry_stays_counted_when_its_ticket_is_voided_afterwards(runtime, tenant):
    """The check-in figures count entries from the tickets; voiding a used ticket (a refund with the override,
    an operator's void) must not make its entry disappear while its admitted scan stays on record."""
    from piaowu.tickets import service as tickets

    actor = await owner_actor(runtime, tenant.owner_id)
    sale, order = await sold(runtime, actor, n=2)
    assert (await scan(runtime, actor, order.lines[0].ticket.code)).admitted
    await in_uow(runtime, lambda uow: tickets.void_tickets(uow, actor, tenant.organizer_id, [order.lines[0].id]))
    async with runtime.uow(readonly=True) as uow:
        stats = await checkin.counts(uow, actor, [sale.session_id])
    assert stats.checked_in == stats.scans_admitted == 1
    assert stats.checked_in <= stats.tickets == 2  # the one still valid, and the one that admitted someone
