"""A refund and a scan of the same ticket at the same moment, on SQLite and PostgreSQL.

Each ticket must end in exactly one of these states:

- admitted, and the refund refused with ``ticket_used`` (nothing written);
- refunded with its place back on sale, and the scan refused (``refunded``);
- with the used-ticket override: admitted *and* refunded, its place kept sold;

never admitted and refunded as if it had not been used (its place put back on sale while its holder is in).
The pool ledger (``tests/concurrency/ledger.py``) checks the places: a refunded line gives its units back only
if its ticket was never used. The control run swaps in a refund that reads the tickets without locking them
and leaves a gap before writing, and must see a ticket admitted and refunded with its place returned.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from piaowu.catalog import views as catalog_views
from piaowu.checkin import service as checkin
from piaowu.checkin.schemas import ScanIn, ScanOut
from piaowu.orders import payment_flow
from piaowu.orders.models import OrderLine
from piaowu.orders.refunds import refund_order
from piaowu.orders.schemas import CashPaymentIn, OrderOut, RefundIn
from piaowu.tickets.models import Ticket
from piaowu.tickets.service import REFUND_USE_STRATEGY_KEY
from tests.concurrency.ledger import buy, codes, in_uow, ledger, pools_of, settle, warm
from tests.concurrency.naive import StaleUseReader
from tests.factories import on_sale_session, owner_actor

pytestmark = pytest.mark.slow

N = 8  # orders of one ticket; each sees one refund and one scan at once
STAGGER_S = 0.004


async def _paid_orders(rt, actor) -> tuple[str, list[OrderOut]]:  # noqa: ANN001
    sale = await on_sale_session(rt, actor, capacity=2 * N)
    out = []
    for _ in range(N):
        order = await buy(rt, actor, sale.ticket_type_id, 1)
        out.append(
            await in_uow(rt, lambda uow, o=order: payment_flow.pay_at_counter(uow, actor, o.id, CashPaymentIn()))
        )
    async with rt.uow(readonly=True) as uow:
        label = (await catalog_views.session_labels(uow, actor.organizer_id, [sale.session_id]))[sale.session_id]
    rt.clock.set(label.starts_at - timedelta(minutes=30))  # type: ignore[attr-defined]
    return sale.session_id, out


async def _race(rt, actor, orders: list[OrderOut], allow_used: bool) -> tuple[list, list]:  # noqa: ANN001
    command = RefundIn(allow_used=allow_used, reason="race" if allow_used else "")

    # Staggered starts, so that some scans come before their refund, some after and some in the middle.
    async def refund(o: OrderOut, i: int) -> OrderOut:
        await asyncio.sleep(STAGGER_S * (i % 4))
        return await in_uow(rt, lambda uow: refund_order(uow, actor, o.id, command))

    async def scan(o: OrderOut, i: int) -> ScanOut:
        await asyncio.sleep(STAGGER_S * ((i + 2) % 4))
        return await in_uow(rt, lambda uow: checkin.scan(uow, actor, ScanIn(raw=o.lines[0].ticket.code, gate=f"g{i}")))

    outcomes = await settle(
        [*(refund(o, i) for i, o in enumerate(orders)), *(scan(o, i) for i, o in enumerate(orders))]
    )
    return outcomes[:N], outcomes[N:]


async def _rows(rt, orders: list[OrderOut]) -> dict[str, tuple[str, str, int]]:  # noqa: ANN001
    """order id → (line status, ticket status, entries used)."""
    async with rt.uow(readonly=True) as uow:
        rows = (
            await uow.session.execute(
                select(OrderLine.order_id, OrderLine.status, Ticket.status, Ticket.entries_used)
                .join(Ticket, Ticket.order_line_id == OrderLine.id)
                .where(OrderLine.order_id.in_([o.id for o in orders]))
            )
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


@pytest.mark.parametrize("allow_used", [False, True], ids=["default", "override"])
async def test_a_scan_and_a_refund_at_once_never_admit_a_ticket_refunded_as_unused(runtime, tenant, allow_used):
    actor = await owner_actor(runtime, tenant.owner_id)
    session_id, orders = await _paid_orders(runtime, actor)
    await warm(runtime, 2 * N)
    refunds, scans = await _race(runtime, actor, orders, allow_used)
    assert set(codes(refunds)) <= {"ok", "ticket_used", "busy"}, codes(refunds)
    assert not [s for s in scans if isinstance(s, BaseException)], scans
    rows = await _rows(runtime, orders)
    for o, r, s in zip(orders, refunds, scans, strict=True):
        line, ticket, used = rows[o.id]
        if s.admitted:
            assert used == 1
            if allow_used:
                assert not isinstance(r, BaseException) and (line, ticket) == ("refunded", "refunded")
            else:
                assert getattr(r, "code", None) == "ticket_used" and (line, ticket) == ("active", "valid")
        else:
            assert s.result == "refunded" and used == 0 and (line, ticket) == ("refunded", "refunded")
    books = await ledger(runtime, await pools_of(runtime, session_id))
    for book in books.values():
        assert book.within_capacity and book.consistent, book
    if not allow_used:
        assert {b.sold for b in books.values()} == {sum(s.admitted for s in scans)}


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_control_a_refund_reading_its_tickets_without_locks_refunds_an_admitted_ticket(runtime, tenant):
    """PostgreSQL only: on SQLite a refund's write transaction holds the database's write lock from its first
    statement (``BEGIN IMMEDIATE``), so no scan can commit between its read and its write even without the row
    locks; on PostgreSQL only the tickets' row locks keep the scans out."""
    actor = await owner_actor(runtime, tenant.owner_id)
    session_id, orders = await _paid_orders(runtime, actor)
    await warm(runtime, 2 * N)
    runtime.strategies[REFUND_USE_STRATEGY_KEY] = StaleUseReader(gap_s=0.02)
    try:
        refunds, scans = await _race(runtime, actor, orders, allow_used=False)
    finally:
        runtime.strategies.pop(REFUND_USE_STRATEGY_KEY)
    both = [
        o.id
        for o, r, s in zip(orders, refunds, scans, strict=True)
        if not isinstance(r, BaseException) and not isinstance(s, BaseException) and s.admitted
    ]
    assert both, "no ticket was both admitted and refunded without the locks: the race test is blind"
    rows = await _rows(runtime, orders)
    assert all(rows[oid] == ("refunded", "refunded", 1) for oid in both)
    books = await ledger(runtime, await pools_of(runtime, session_id))
    assert not all(b.consistent for b in books.values()), "the places of admitted tickets went back on sale"
