"""Orders: place, read, cancel, expire. Payment and refund flows are in ``payment_flow`` and ``refunds``.

Guarantees:
- an order is created with all its units held, or not at all (``SoldOut`` and nothing written);
- a pending order closes exactly once (paid, cancelled or expired), and its hold is given back exactly once;
- every state change writes one audit event in the same transaction.
"""

from __future__ import annotations

from datetime import timedelta

from piaowu.accounts import service as accounts
from piaowu.accounts.permissions import CUSTOMER_PERMISSIONS, Permission
from piaowu.audit.recorder import as_row, record
from piaowu.catalog import views as catalog_views
from piaowu.core import channels
from piaowu.core.actor import Actor, ActorKind, system_actor
from piaowu.core.errors import (
    InvalidQuantity,
    InvalidState,
    LockTimeout,
    NotFound,
    NotOnSale,
    OrderNotFound,
    PermissionDenied,
    SeatBlocked,
    SeatRequired,
    SeatsUnavailable,
    SeatTaken,
    ValidationFailed,
)
from piaowu.core.ids import human_code, new_id, normalize_code
from piaowu.core.selections import Holding, Item, PoolHolding, Resolution
from piaowu.db import hotpath
from piaowu.db.hotpath import StaleRead
from piaowu.db.pagination import paginate
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.inventory.rules import Claim, Take
from piaowu.orders import repository as repo
from piaowu.orders import resolvers
from piaowu.orders.models import Order, OrderLine, OrderLineHolding
from piaowu.orders.schemas import (
    OrderIn,
    OrderLineOut,
    OrderOut,
    OrderPage,
    OrderStatusOut,
    OrderSummary,
    SeatOut,
    normalize_phone,
)
from piaowu.orders.states import CLOSED_UNPAID, OrderStatus
from piaowu.orders.views import order_out
from piaowu.payments import service as payments
from piaowu.tickets import service as tickets

__all__ = [
    "cancel_order",
    "cancel_pending",
    "create_order",
    "due_for_expiry",
    "order_status",
    "expire_order",
    "get_order",
    "list_orders",
    "lookup_order",
    "order_for_customer",
]


# How many times seats chosen for the buyer (best available) are chosen again after another buyer took them.
RECHOOSE_ATTEMPTS = 3
# From this attempt on, the seats are chosen again from a fresh view (before it: from the view, the lost seats
# marked taken).
FRESH_AFTER = 2


def _require_seller(actor: Actor) -> None:
    if actor.kind == ActorKind.CUSTOMER:
        if not CUSTOMER_PERMISSIONS & actor.permissions:
            raise PermissionDenied(permission="shop.buy")
        return
    actor.require(Permission.ORDER_CREATE)


async def create_order(uow: UnitOfWork, actor: Actor, data: OrderIn) -> OrderOut:
    """Holds the units and records a pending order that expires after ``settings.hold_minutes``.

    Each item is resolved by its product's resolver (``resolvers``): all of them or none, and every pool take
    and unit claim of the resolution is reserved in one go. What each line holds is written with it
    (``order_line_holdings``). Every row it writes goes into the one reservation statement
    (``inventory.reserve(with_rows=…)``), so it may run in an autocommit unit of work: keep it that way — an
    ORM write added here would be committed on its own, outside that statement.

    The catalog offers and an API token's actor may come from this process's caches; the reservation statement
    re-verifies both (``Resolution.checks``, ``accounts.token_checks``), so an order is never placed at a
    price, in a sales window or with a token that is no longer current: a stale offer refreshes the cache and
    the order is tried once more; a revoked token is refused (docs/architecture.md, "Caches on the sale
    path")."""
    _require_seller(actor)
    items = resolvers.items_of(resolvers.registry_of(uow), data.items, channel=actor.channel)
    stale_reads, rechosen, fresh = 0, 0, False
    while True:
        resolution = await _resolve(uow, actor, items, fresh=fresh)  # after a stale read or a lost seat: re-read
        try:
            if not resolution.rechoose:
                return await _place(uow, actor, data, resolution)
            # Seats chosen for the buyer (best available) may have been taken since the view they were chosen
            # from: a refusal is undone alone and the seats chosen again from a fresh view, a few times.
            async with uow.attempt():
                return await _place(uow, actor, data, resolution)
        except StaleRead as stale:
            accounts.refuse_revoked(stale.checks)
            stale_reads += 1
            if stale_reads >= 2:
                raise LockTimeout() from None  # the catalog changed under two attempts in a row: a retryable 503
        except SeatTaken as taken:
            # Picked seats kept back or withheld from the channel were not looked at before the claim refused
            # them: their resolver reads them now and raises seat_blocked / seat_not_on_sale_here.
            for name in resolution.name:
                await name(uow)
            seats = resolution.seats_of(taken.data.get("unit_ids", ()))
            if not resolution.rechoose or rechosen >= RECHOOSE_ATTEMPTS:
                raise SeatTaken(**taken.data, seats=seats) from None
            rechosen += 1
            # The resolver's view is told which seats were lost and chooses again from it (it already shows the
            # seats it chose as taken): colliding buyers do not each read every seat's state. Later attempts read
            # afresh (one read shared by the buyers waiting for it), so a view gone wrong cannot refuse the buyer.
            for tell in resolution.taken:
                tell(taken.data.get("unit_ids", ()))
            fresh = stale_reads > 0 or rechosen >= FRESH_AFTER
            continue
        fresh = True


async def _resolve(uow: UnitOfWork, actor: Actor, items: list[Item], *, fresh: bool) -> Resolution:
    """Resolve from the (possibly cached) offers; a refusal is only given from fresh ones. Only this order's
    rows are re-read: a refused request (a bad id, a sale not open yet) never evicts other buyers' cache."""
    try:
        return await resolvers.resolve(uow, actor.organizer_id, items, fresh=fresh)
    except (ValidationFailed, NotOnSale, InvalidQuantity, SeatBlocked, SeatsUnavailable, SeatRequired):
        if fresh:
            raise
        return await resolvers.resolve(uow, actor.organizer_id, items, fresh=True)


async def _place(uow: UnitOfWork, actor: Actor, data: OrderIn, resolution: Resolution) -> OrderOut:
    currency = resolution.currencies.pop()
    total_minor = resolution.total_minor
    now = uow.now()
    order_id = new_id()
    expires_at = now + timedelta(minutes=uow.settings.hold_minutes)
    code = human_code(8)
    hold_id = new_id()  # chosen here so that the order row can name its hold in the same statement
    order_row = {
        "id": order_id,
        "organizer_id": actor.organizer_id,
        "code": code,
        "status": OrderStatus.PENDING.value,
        "channel": actor.channel,
        "buyer_name": data.buyer.name,
        "buyer_phone": data.buyer.phone,
        "buyer_email": (data.buyer.email or "").lower(),
        "total_minor": total_minor,
        "paid_minor": 0,
        "refunded_minor": 0,
        "currency": currency,
        "hold_id": hold_id,
        "expires_at": expires_at,
        "paid_at": None,
        "closed_at": None,
        "created_by": actor.ref,
        "locale": "zh_CN",
        "created_at": now,
    }
    line_rows = [
        {
            "id": new_id(),
            "order_id": order_id,
            "organizer_id": actor.organizer_id,
            "session_id": line.session_id,
            "ticket_type_id": line.ticket_type_id,
            "ticket_type_name": line.ticket_type_name,
            "price_minor": line.price_minor,
            "holder_name": line.holder_name,
            "seat_section": line.seat.section if line.seat else "",
            "seat_row": line.seat.row if line.seat else "",
            "seat_number": line.seat.number if line.seat else "",
            "status": "active",
        }
        for line in resolution.lines
    ]
    holding_rows = [
        holding_row(row["id"], actor.organizer_id, h)
        for row, line in zip(line_rows, resolution.lines, strict=True)
        for h in line.holdings
    ]
    audit = as_row(
        uow,
        actor,
        "order.created",
        "order",
        order_id,
        after={"code": code, "total_minor": total_minor, "tickets": len(line_rows), "hold": hold_id},
    )
    await inventory.reserve(
        uow,
        actor.organizer_id,
        [Take(p, n, p in resolution.seatless) for p, n in resolution.takes],
        expires_at=expires_at,
        owner_ref=f"order:{order_id}",
        hold_id=hold_id,
        with_rows=[
            (Order.__table__, [order_row]),
            (OrderLine.__table__, line_rows),
            (OrderLineHolding.__table__, holding_rows),
            audit,
        ],
        # Claimed for the order's channel: a seat withheld from it is refused by the claim itself.
        claims=[Claim(u, m, channels.bit(actor.channel)) for u, m in resolution.claims],
        checks=[*resolution.checks, *accounts.token_checks(actor)],
    )
    return OrderOut(
        id=order_id,
        code=code,
        status=OrderStatus.PENDING,
        channel=actor.channel,
        buyer_name=data.buyer.name,
        buyer_phone=data.buyer.phone,
        buyer_email=order_row["buyer_email"],
        total_minor=total_minor,
        paid_minor=0,
        refunded_minor=0,
        currency=currency,
        expires_at=expires_at,
        created_at=now,
        paid_at=None,
        lines=[
            OrderLineOut(
                id=row["id"],
                session_id=line.session_id,
                ticket_type_id=line.ticket_type_id,
                ticket_type_name=line.ticket_type_name,
                price_minor=line.price_minor,
                status="active",
                holder_name=line.holder_name,
                event_name=line.event_name,
                session_name=line.session_name,
                starts_at=line.starts_at,
                seat=SeatOut(section=line.seat.section, row=line.seat.row, number=line.seat.number)
                if line.seat
                else None,
            )
            for row, line in zip(line_rows, resolution.lines, strict=True)
        ],
    )


def holding_row(line_id: str, organizer_id: str, h: Holding) -> dict[str, object]:
    """One ``order_line_holdings`` row. Every row has every column (the hot path compiles one INSERT per shape)."""
    if isinstance(h, PoolHolding):
        pool_id, unit_id, quantity, mask = h.pool_id, None, h.quantity, 0
    else:
        pool_id, unit_id, quantity, mask = None, h.unit_id, 0, h.mask
    return {
        "id": new_id(),
        "line_id": line_id,
        "organizer_id": organizer_id,
        "pool_id": pool_id,
        "unit_id": unit_id,
        "quantity": quantity,
        "mask": mask,
    }


async def load(uow: UnitOfWork, organizer_id: str, order_id: str) -> Order:
    order = await repo.order(uow.session, organizer_id, order_id)
    if order is None:
        raise NotFound(kind="order")
    return order


async def get_order(uow: UnitOfWork, actor: Actor, order_id: str) -> OrderOut:
    """The order with its lines, tickets and payments, in the actor's organizer only (else not found). Plain
    rows, no entities, ONE statement (``repository.order_whole``): the buyer's page reads it once on every paid
    order, and it needs no transaction for a consistent answer (run it in an autocommit read)."""
    actor.require(Permission.ORDER_READ)
    found = await repo.order_whole(uow.session, actor.organizer_id, order_id)
    if found is None:
        raise NotFound(kind="order")
    return await order_out(
        uow,
        found.order,
        found.lines,
        labels=catalog_views.labels_in(found.labelled),
        issued=tickets.tickets_in(found.rows),
        pays=payments.payments_in(found.rows),
    )


async def order_status(uow: UnitOfWork, actor: Actor, order_id: str) -> OrderStatusOut:
    """One indexed read, for clients polling until an online payment lands. An API token's actor may come from
    this process's cache: the read re-verifies the token (``accounts.token_checks``), so a revoked one is
    refused (401) by the very read that would have answered it."""
    actor.require(Permission.ORDER_READ)
    checks = accounts.token_checks(actor)
    row = await repo.status_of(uow.session, actor.organizer_id, order_id, checks)
    accounts.refuse_revoked(await hotpath.failed_checks(uow.session, actor.organizer_id, checks, row))
    if row is None:
        raise NotFound(kind="order")
    return OrderStatusOut(id=row.id, status=row.status, expires_at=row.expires_at, paid_at=row.paid_at)


def _contact_matches(order: Order, contact: str) -> bool:
    contact = contact.strip()
    if "@" in contact:
        return bool(order.buyer_email) and order.buyer_email == contact.lower()
    try:
        return normalize_phone(contact) == order.buyer_phone
    except ValueError:
        return False


async def order_for_customer(uow: UnitOfWork, organizer_id: str, code: str, contact: str) -> Order:
    """The order a buyer may see: the code and the buyer's mobile or e-mail must both match (one error for
    either mismatch, so codes cannot be probed)."""
    order = await repo.by_code(uow.session, organizer_id, normalize_code(code))
    if order is None or not _contact_matches(order, contact):
        raise OrderNotFound()
    return order


async def lookup_order(uow: UnitOfWork, organizer_id: str, code: str, contact: str) -> OrderOut:
    order = await order_for_customer(uow, organizer_id, code, contact)
    return await order_out(uow, order, await repo.lines(uow.session, [order.id]))


async def list_orders(
    uow: UnitOfWork,
    actor: Actor,
    *,
    cursor: str | None = None,
    limit: int = 50,
    status: str | None = None,
    q: str | None = None,
    session_id: str | None = None,
) -> OrderPage:
    """Orders newest first, optionally only those with a ticket for one session (before or after it was
    cancelled: the list shows each order's state)."""
    actor.require(Permission.ORDER_READ)
    query = repo.list_query(actor.organizer_id, status, q, session_id)
    page = await paginate(uow.session, query, Order, cursor, limit)
    counts = await repo.line_counts(uow.session, [o.id for o in page.items])
    return OrderPage(
        items=[
            OrderSummary(
                id=o.id,
                code=o.code,
                status=o.status,
                channel=o.channel,
                buyer_name=o.buyer_name,
                buyer_phone=o.buyer_phone,
                total_minor=o.total_minor,
                currency=o.currency,
                tickets=counts.get(o.id, 0),
                created_at=o.created_at,
                expires_at=o.expires_at,
            )
            for o in page.items
        ],
        next_cursor=page.next_cursor,
    )


async def _close_pending(uow: UnitOfWork, actor: Actor, order: Order, target: OrderStatus, action: str) -> bool:
    if not await repo.transition(uow.session, order.id, target, closed_at=uow.now()):
        return False
    if order.hold_id:
        await inventory.release(uow, order.hold_id, expired=target == OrderStatus.EXPIRED)
    await payments.cancel_pending(uow, order.organizer_id, order.id)
    record(uow, actor, action, "order", order.id, before={"status": "pending"}, after={"status": str(target)})
    await uow.announce(order.id)  # a buyer's page waiting on it (db/wakeups.py)
    return True


async def cancel_pending(uow: UnitOfWork, actor: Actor, order: Order) -> bool:
    """Cancel a pending order (releasing its hold) whatever its buyer or clerk may do: the caller decided, e.g. its
    session was cancelled. False when it was no longer pending."""
    return await _close_pending(uow, actor, order, OrderStatus.CANCELLED, "order.cancelled")


async def cancel_order(uow: UnitOfWork, actor: Actor, order_id: str) -> OrderOut:
    """Cancels a pending order and releases its units. A paid order is refunded instead (``refunds``)."""
    actor.require(Permission.ORDER_CANCEL)
    order = await load(uow, actor.organizer_id, order_id)
    return await _cancel(uow, actor, order)


async def cancel_by_customer(uow: UnitOfWork, organizer_id: str, code: str, contact: str) -> OrderOut:
    order = await order_for_customer(uow, organizer_id, code, contact)
    actor = Actor(kind=ActorKind.CUSTOMER, organizer_id=organizer_id, id=order.buyer_phone, name=order.buyer_name)
    return await _cancel(uow, actor, order)


async def _cancel(uow: UnitOfWork, actor: Actor, order: Order) -> OrderOut:
    if order.status != OrderStatus.PENDING or not await _close_pending(
        uow, actor, order, OrderStatus.CANCELLED, "order.cancelled"
    ):
        await uow.session.refresh(order)
        if order.status != OrderStatus.CANCELLED:
            raise InvalidState(state=order.status)
    await uow.session.refresh(order)
    return await order_out(uow, order, await repo.lines(uow.session, [order.id]))


async def due_for_expiry(uow: UnitOfWork, limit: int = 200) -> list[tuple[str, str]]:
    """(order id, organizer id) of pending orders past ``expires_at``, oldest first."""
    return await repo.due_pending(uow.session, uow.now(), limit)


async def expire_order(uow: UnitOfWork, organizer_id: str, order_id: str) -> bool:
    """Expire one pending order past its deadline and give its units back. False if it was no longer pending.

    One order per transaction, on purpose: a transaction that expired several orders would hold the pool locks
    of the first while waiting for the next order's row, which a payment for that order may hold while it
    waits for the same pool — a deadlock."""
    order = await repo.order(uow.session, organizer_id, order_id)
    if order is None or order.status in CLOSED_UNPAID or order.expires_at is None or order.expires_at > uow.now():
        return False
    return await _close_pending(uow, system_actor(organizer_id, "sweeper"), order, OrderStatus.EXPIRED, "order.expired")
