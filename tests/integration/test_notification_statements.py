"""The payment notification is the paid path's largest step: its transaction stays a short list of plain
statements (it was 25 between BEGIN and COMMIT, ORM entities throughout; docs/benchmarks.md). A change that
brings back a per-row read or a re-read of what the transaction already knows shows here first."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from piaowu.audit.models import AuditEvent
from piaowu.catalog.models import TicketType
from piaowu.db.wakeups import Wakeups
from piaowu.inventory.models import Pool
from piaowu.orders.models import Order
from piaowu.payments import sandbox_gateway as gw
from piaowu.tickets.models import Ticket, TicketEntitlement
from tests.concurrency.ledger import buy, in_uow, pools_of
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import start_online
from tests.statements import short, statements

# lock the order and its hold with the payment and read its lines with their sessions' labels and the hold's items
# (one), log + mark + the payment's audit event + the order's transition to paid (one), the reads —
# sealed key, tickets already issued, grants (one) — and ONE statement for the hold's confirm (hold and pools),
# the tickets, their entitlements, the type's sales, the order's and tickets' audit events and the NOTIFY to the
# buyer's waiting page (was 5 with the confirm on its own, 7 and 11 before that; 25 with ORM entities)
MAX_STATEMENTS = 4


async def _paid_on_the_gateway(runtime, actor, order_id: str) -> bytes:  # noqa: ANN001
    """The order's online payment started and paid on the sandbox gateway. → the notification's signed body."""
    start = await start_online(runtime, actor, order_id)
    trade_no = start.redirect_url.rsplit("/", 1)[-1]
    trade = await in_uow(runtime, lambda uow: gw.pay(uow.session, uow.now(), trade_no))
    return gw.notification_body(trade, f"N{trade.trade_no}")


async def _notify(client, runtime, body: bytes):  # noqa: ANN001, ANN202
    """The gateway's notification, delivered to the server as the gateway signs it."""
    return await client.post(
        "/api/v1/payments/notify/sandbox",
        content=body,
        headers={gw.SIGNATURE_HEADER: gw.sign(gw.merchant_key(runtime.secret_key), body)},
    )


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_a_notification_is_a_short_list_of_statements(runtime, client, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=5)
    order = await buy(runtime, actor, sale.ticket_type_id, 2)
    body = await _paid_on_the_gateway(runtime, actor, order.id)

    other = Wakeups(runtime.db.url)  # another worker's: only PostgreSQL's NOTIFY at the commit can wake it
    async with other.watch(order.id) as woken:  # the buyer's held status request there
        with statements(runtime) as sent:
            r = await _notify(client, runtime, body)
        assert r.status_code == 200 and r.text == "success"
        assert len(sent) <= MAX_STATEMENTS, short(sent)
        locked = [s for s in sent if "FOR UPDATE OF orders" in s]
        assert len(locked) == 1 and "order_lines" in locked[0], "the lines are read with the order's lock"
        assert not [s for s in sent if s.startswith("SELECT order_lines")], "no read of the lines of its own"
        assert not [s for s in sent if s.startswith("UPDATE orders")], "the transition rides in the payment's mark"
        marked = [s for s in sent if "UPDATE payments" in s]
        assert len(marked) == 1 and "UPDATE orders" in marked[0], short(sent)
        assert not [s for s in sent if s.startswith("SELECT ticket_entitlements")], "entitlements are not read back"
        notify = [s for s in sent if "pg_notify" in s]
        assert len(notify) == 1 and notify[0].startswith("WITH"), "the NOTIFY rides in the tickets' statement"
        try:
            await asyncio.wait_for(woken, 5)
        finally:
            await other.aclose()

    # and it did all of it: paid, units sold, two tickets with their entitlements, the audit trail
    async with runtime.uow(readonly=True) as uow:
        s = uow.session
        assert (await s.execute(select(Order.status).where(Order.id == order.id))).scalar_one() == "paid"
        tickets = (await s.execute(select(Ticket.id).where(Ticket.order_id == order.id))).scalars().all()
        assert len(tickets) == 2
        ents = select(func.count()).select_from(TicketEntitlement).where(TicketEntitlement.ticket_id.in_(tickets))
        assert (await s.execute(ents)).scalar_one() == 2
        actions = (await s.execute(select(AuditEvent.action))).scalars().all()
        assert {"payment.succeeded", "order.paid"} <= set(actions) and actions.count("ticket.issued") == 2
        type_sold = select(TicketType.sold).where(TicketType.id == sale.ticket_type_id)
        assert (await s.execute(type_sold)).scalar_one() == 2, "the ticket type's sales counter rode along"
    (pool,) = await pools_of(runtime, sale.session_id)
    async with runtime.uow(readonly=True) as uow:
        held, sold = (await uow.session.execute(select(Pool.held, Pool.sold).where(Pool.id == pool))).one()
    assert (held, sold) == (0, 2)


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_the_sales_hot_rows_are_locked_by_the_last_statement_only(runtime, client, tenant):
    """Confirming the hold locks the pool's row, which every order of the sale updates (placing one too), until
    COMMIT. Every read the notification needs comes before it and the confirm rides in the tickets' write, so
    that the lock waits for no other round trip than the COMMIT (with the issue's reads after the confirm, a
    flash sale's orders queued on the pool row: bench/flash_sale.py --timeline, docs/benchmarks.md "paidtail";
    with the confirm a statement of its own, one round trip more: "paidride"). The hold's row is locked by the
    first statement, so nothing closes the hold before the confirm."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=5)
    order = await buy(runtime, actor, sale.ticket_type_id, 1)
    body = await _paid_on_the_gateway(runtime, actor, order.id)
    with statements(runtime) as sent:
        r = await _notify(client, runtime, body)
    assert r.status_code == 200 and r.text == "success"
    hot = [i for i, s in enumerate(sent) if "UPDATE inventory_pools" in s or "UPDATE ticket_types" in s]
    assert hot == [len(sent) - 1], short(sent)
    last = sent[-1]
    assert "INSERT INTO tickets" in last and "UPDATE ticket_types" in last, short(sent)
    # the hold, then its pools, then the type's sales: the order in which every transaction locks them
    positions = [last.index(t) for t in ("UPDATE inventory_holds", "UPDATE inventory_pools", "UPDATE ticket_types")]
    assert positions == sorted(positions), last
    assert "FOR UPDATE" in sent[0] and "inventory_holds" in sent[0], "the hold's row is locked with the order's"
    async with runtime.uow(readonly=True) as uow:
        assert (await uow.session.execute(select(Order.status).where(Order.id == order.id))).scalar_one() == "paid"
