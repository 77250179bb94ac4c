"""A session with orders in every state, for the session-cancellation tests (through the real services)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from piaowu.catalog.models import Session
from piaowu.checkin import service as checkin
from piaowu.checkin.schemas import ScanIn
from piaowu.core.actor import Actor
from piaowu.core.events import Topic
from piaowu.db.outbox import OutboxMessage
from piaowu.inventory.models import Pool
from piaowu.orders import payment_flow, refunds
from piaowu.orders import service as orders
from piaowu.orders.models import Order, OrderLine
from piaowu.orders.schemas import CashPaymentIn, RefundIn
from piaowu.payments import sandbox_gateway as gw
from piaowu.payments.models import Payment, Refund
from piaowu.runtime import Runtime
from piaowu.tickets.models import Ticket
from piaowu.workers.reconcile import recover_order
from tests.concurrency.ledger import assert_ledger, buy, in_uow
from tests.factories import OnSale, on_sale_session
from tests.order_helpers import start_online

# Every state an order of a session can be in when the session is cancelled.
KINDS = ("pending", "cash", "online", "partial", "cancelled", "used", "late", "card")


@dataclass
class World:
    sale: OnSale
    kinds: dict[str, str] = field(default_factory=dict)  # order id → kind
    qr: dict[str, str] = field(default_factory=dict)  # order id → a ticket's QR payload (paid orders)
    late_trades: dict[str, str] = field(default_factory=dict)  # order id → trade paid at the gateway, not notified


async def _scan(rt: Runtime, actor: Actor, raw: str) -> str:
    return (await in_uow(rt, lambda uow: checkin.scan(uow, actor, ScanIn(raw=raw, gate="North")))).result


async def _online(rt: Runtime, actor: Actor, order_id: str, *, notify: bool) -> str:
    start = await start_online(rt, actor, order_id)
    trade_no = start.redirect_url.rsplit("/", 1)[-1]
    await in_uow(rt, lambda uow: gw.pay(uow.session, uow.now(), trade_no))
    if notify:  # the buyer came back and the status query found it paid (as if the notification had arrived)
        await refresh_from_provider(rt, actor.organizer_id, order_id)
    return trade_no


async def refresh_from_provider(rt: Runtime, organizer_id: str, order_id: str) -> None:
    """What an order lookup does: ask the provider with no lock held, then apply its answers in a transaction."""
    await recover_order(rt, organizer_id, order_id)


def places_used(world: World) -> int:
    """Places consumed at the gate before the cancellation: refunded all the same, but they stay sold (a refund of
    a used ticket never puts its place back on sale, orders/refund_rules.py)."""
    return sum(1 for kind in world.kinds.values() if kind == "used")


async def add_order(rt: Runtime, actor: Actor, world: World, kind: str) -> str:
    """One order of ``kind``. Expired orders are made by ``add_expired`` (they need the clock moved)."""
    sale = world.sale
    order = await buy(rt, actor, sale.ticket_type_id, 2 if kind == "partial" else 1)
    oid = order.id
    if kind in ("cash", "partial", "used", "card"):
        method = "card_terminal" if kind == "card" else "cash"
        paid = await in_uow(rt, lambda uow: payment_flow.pay_at_counter(uow, actor, oid, CashPaymentIn(method=method)))
        world.qr[oid] = paid.lines[0].ticket.qr_payload
        if kind == "partial":
            line = paid.lines[1].id
            await in_uow(rt, lambda uow: refunds.refund_order(uow, actor, oid, RefundIn(line_ids=[line])))
        if kind == "used":
            assert await _scan(rt, actor, world.qr[oid]) == "admitted"
    elif kind == "online":
        await _online(rt, actor, oid, notify=True)
        got = await in_uow(rt, lambda uow: orders.get_order(uow, actor, oid))
        assert got.status == "paid"
        world.qr[oid] = got.lines[0].ticket.qr_payload
    elif kind == "late":
        world.late_trades[oid] = await _online(rt, actor, oid, notify=False)
    elif kind == "cancelled":
        await in_uow(rt, lambda uow: orders.cancel_order(uow, actor, oid))
    world.kinds[oid] = kind
    return oid


async def add_expired(rt: Runtime, actor: Actor, world: World, n: int) -> None:
    """``n`` orders left unpaid past their hold (the clock moves past it; call this first)."""
    ids = [(await buy(rt, actor, world.sale.ticket_type_id)).id for _ in range(n)]
    rt.clock.advance(timedelta(minutes=rt.settings.hold_minutes + 1))  # type: ignore[attr-defined]
    for oid in ids:
        assert await in_uow(rt, lambda uow, oid=oid: orders.expire_order(uow, actor.organizer_id, oid))
        world.kinds[oid] = "expired"


@dataclass
class Books:
    statuses: Counter[str]
    mismatched: list[str]  # orders whose money does not balance
    valid_tickets: int
    pool_held: int
    pool_sold: int
    notices: Counter[str]  # order id → order.session_cancelled messages


async def books(rt: Runtime, world: World) -> Books:
    """Money per order: refunded == paid for every order; per payment: refunds (not failed) == refunded_minor;
    the session pool back to nothing held or sold; no valid ticket left; one notice per affected order."""
    async with rt.uow(readonly=True) as uow:
        s = uow.session
        ids = list(world.kinds)
        os_ = {o.id: o for o in (await s.execute(select(Order).where(Order.id.in_(ids)))).scalars()}
        pays = list((await s.execute(select(Payment).where(Payment.order_id.in_(ids)))).scalars())
        refs = list((await s.execute(select(Refund).where(Refund.order_id.in_(ids)))).scalars())
        lines = list((await s.execute(select(OrderLine).where(OrderLine.order_id.in_(ids)))).scalars())
        valid = (
            await s.execute(
                select(func.count())
                .select_from(Ticket)
                .where(Ticket.session_id == world.sale.session_id, Ticket.status == "valid")
            )
        ).scalar_one()
        pool_id = (await s.execute(select(Session.pool_id).where(Session.id == world.sale.session_id))).scalar_one()
        pool = await s.get_one(Pool, pool_id)
        msgs = list(
            (
                await s.execute(select(OutboxMessage).where(OutboxMessage.topic == Topic.ORDER_SESSION_CANCELLED))
            ).scalars()
        )
    mismatched = []
    for oid, o in os_.items():
        got_paid = sum(p.amount_minor for p in pays if p.order_id == oid and p.status == "succeeded")
        got_refunded = sum(r.amount_minor for r in refs if r.order_id == oid and r.status != "failed")
        active = [x for x in lines if x.order_id == oid and x.status == "active"]
        if (
            o.refunded_minor != o.paid_minor
            or got_refunded != got_paid
            or sum(p.refunded_minor for p in pays if p.order_id == oid) != got_refunded
            or (active and o.status in ("paid", "partially_refunded"))
        ):
            mismatched.append(
                f"{world.kinds[oid]} {o.code}: {o.status} paid={o.paid_minor} refunded={o.refunded_minor}"
                f" payments={got_paid} refunds={got_refunded} active_lines={len(active)}"
            )
    return Books(
        statuses=Counter(o.status for o in os_.values()),
        mismatched=mismatched,
        valid_tickets=valid,
        pool_held=pool.held,
        pool_sold=pool.sold,
        notices=Counter(m.payload["order_id"] for m in msgs),
    )


REFUNDED_KINDS = ("cash", "online", "partial", "used", "card")


async def assert_books_after_cancellation(rt: Runtime, world: World, pools: object) -> Books:
    """What a finished cancellation of ``world``'s session leaves, whatever happened on the way (a crash, a kill,
    a resume): every order in the state its kind calls for, refunded = paid, nothing held, only places used at the
    gate still sold, no valid ticket, one message per affected buyer, and the ledger balanced."""
    kinds = Counter(world.kinds.values())
    b = await books(rt, world)
    assert b.mismatched == []
    assert (b.pool_held, b.pool_sold, b.valid_tickets) == (0, places_used(world), 0)
    assert b.statuses == {
        "refunded": sum(kinds[k] for k in REFUNDED_KINDS),
        "cancelled": kinds["pending"] + kinds["late"] + kinds["cancelled"],
        "expired": kinds["expired"],
    }
    affected = [o for o, k in world.kinds.items() if k not in ("cancelled", "expired")]
    assert b.notices == dict.fromkeys(affected, 1)  # one message per buyer, none twice
    await assert_ledger(rt, pools)  # type: ignore[arg-type]
    return b


async def mixed_world(rt: Runtime, actor: Actor, orders: int, expired: int) -> World:
    """A session of 1,000 places an hour away with ``orders`` orders: ``expired`` expired ones, then the other
    kinds in turn (``KINDS``)."""
    world = World(await on_sale_session(rt, actor, capacity=1000, starts_in=timedelta(hours=1)))
    await add_expired(rt, actor, world, expired)
    for i in range(orders - expired):
        await add_order(rt, actor, world, KINDS[i % len(KINDS)])
    return world
