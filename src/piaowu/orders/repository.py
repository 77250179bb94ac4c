from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from piaowu.catalog.models import Session
from piaowu.catalog.repository import with_labels
from piaowu.catalog.rules import SessionStatus
from piaowu.core.errors import InvalidState
from piaowu.core.inputs import LIKE_ESCAPE, escape_like
from piaowu.core.selections import Holding, PoolHolding, UnitHolding
from piaowu.db import hotpath
from piaowu.db.hotpath import RowCheck
from piaowu.inventory.repository import takes_of, with_hold
from piaowu.inventory.rules import LockedHold
from piaowu.orders.models import Order, OrderLine, OrderLineHolding
from piaowu.orders.states import OrderStatus, allowed_sources, sources_for
from piaowu.payments.models import Payment
from piaowu.payments.repository import WithMark, with_payments
from piaowu.payments.service import PaymentFacts
from piaowu.tickets.repository import with_tickets

# The hot reads are built once, with parameters: building a statement and walking it for its cache key on every
# call cost more CPU than running it (py-spy during bench/flash_sale.py --mode paid).
_ORG, _ORDER = bindparam("org"), bindparam("order_id")
_ORDER_ENTITY = select(Order).where(Order.id == _ORDER, Order.organizer_id == _ORG)
_STATUS = select(Order.id, Order.status, Order.expires_at, Order.paid_at).where(
    Order.id == _ORDER, Order.organizer_id == _ORG
)
_HEAD = select(Order.id, Order.organizer_id, Order.status, Order.hold_id).where(
    Order.id == _ORDER, Order.organizer_id == _ORG
)
_PAYABLE = select(
    Order.id,
    Order.organizer_id,
    Order.code,
    Order.status,
    Order.expires_at,
    Order.total_minor,
    Order.currency,
    exists(
        select(OrderLine.id)
        .join(Session, (Session.id == OrderLine.session_id) & (Session.organizer_id == _ORG))
        .where(OrderLine.order_id == Order.id, Session.status == SessionStatus.CANCELLED)
    ).label("session_cancelled"),
).where(Order.id == _ORDER, Order.organizer_id == _ORG)
_LINE_FACTS_COLUMNS = (
    OrderLine.id,
    OrderLine.session_id,
    OrderLine.ticket_type_id,
    OrderLine.ticket_type_name,
    OrderLine.holder_name,
    OrderLine.status,
    OrderLine.seat_section,
    OrderLine.seat_row,
    OrderLine.seat_number,
)
_PAYMENT_FACT_COLUMNS = (
    Payment.id,
    Payment.organizer_id,
    Payment.order_id,
    Payment.provider,
    Payment.amount_minor,
    Payment.currency,
)
_LINE_FACTS = select(*_LINE_FACTS_COLUMNS).where(OrderLine.order_id == _ORDER).order_by(OrderLine.id)
# With their sessions' labels (catalog's columns, one read where there were two): the notification and the order
# read print them.
_LINE_FACTS = with_labels(_LINE_FACTS, OrderLine.session_id, _ORG)
_LINES = select(OrderLine).where(OrderLine.order_id == _ORDER).order_by(OrderLine.id)
# A notification's first statement: the payment's facts, its order's state and the order's lines with their
# sessions' labels (what paying it needs), one row per line — one round trip where there were two. The payment's
# and the order's columns are prefixed so that each row reads as a ``line_facts`` row.
_PAYMENT_AND_ORDER = with_labels(
    select(
        *[c.label("payment_" + c.name) for c in _PAYMENT_FACT_COLUMNS],
        Order.status.label("order_status"),
        Order.hold_id.label("order_hold_id"),
        *_LINE_FACTS_COLUMNS,
    )
    .select_from(Payment)
    .join(Order, (Order.id == Payment.order_id) & (Order.organizer_id == Payment.organizer_id))
    .outerjoin(OrderLine, (OrderLine.order_id == Order.id) & (OrderLine.organizer_id == Order.organizer_id))
    .where(Payment.id == bindparam("payment_id"))
    .order_by(OrderLine.id),
    OrderLine.session_id,
    Payment.organizer_id,
)
# With the order's hold, its row locked too: the payment confirms it in the tickets' statement, the last
# (``payment_flow.apply_confirmed``).
_PAYMENT_AND_ORDER_LOCKED = with_hold(_PAYMENT_AND_ORDER, Order.hold_id, lock=True).with_for_update(of=Order)
_PAYMENT_AND_ORDER = with_hold(_PAYMENT_AND_ORDER, Order.hold_id, lock=False)
# The order as the buyer's page shows it, as plain rows (no entities to build and track: read once paid, on
# every paid order).
# One read for the order and its lines (one round trip where there were two): the order's columns under their
# own names, each line's prefixed ``_LINE``, its session's labels prefixed ``LABEL_PREFIX``; one row per line (one
# row of NULL line columns for an order without lines), in line id order.
_LINE = "line_"
_ORDER_WITH_LINES = with_labels(
    select(*Order.__table__.c, *[c.label(_LINE + c.name) for c in OrderLine.__table__.c])
    .select_from(Order)
    .outerjoin(OrderLine, (OrderLine.order_id == Order.id) & (OrderLine.organizer_id == Order.organizer_id))
    .where(Order.id == _ORDER, Order.organizer_id == _ORG)
    .order_by(OrderLine.id),
    OrderLine.session_id,
    _ORG,
)
_LINE_COLUMNS = tuple(c.name for c in OrderLine.__table__.c)
LineRow = namedtuple("LineRow", _LINE_COLUMNS)  # type: ignore[misc]  # an order line's columns, attribute access
# The whole order as its reads show it, in ONE statement: the order with its lines and labels, each line's tickets
# with their entitlements, the order's payments. One statement is one snapshot, so the answer is never assembled
# from two moments (a refund moves lines, tickets, payments and the order's sums in one transaction) and needs no
# transaction around it. Rows: lines × their tickets' entitlements × payments (one each when there are none) —
# a handful for an order of a few lines with one payment.
_ORDER_WHOLE = with_payments(with_tickets(_ORDER_WITH_LINES, Order.id, OrderLine.id, _ORG), Order.id, _ORG)


async def order(session: AsyncSession, organizer_id: str, order_id: str) -> Order | None:
    return (await session.execute(_ORDER_ENTITY, {"org": organizer_id, "order_id": order_id})).scalar_one_or_none()


@dataclass(frozen=True)
class WholeOrder:
    """``order_whole``'s answer: the order as a plain row, its lines (``LineRow`` in id order), the rows with the
    lines' sessions' label columns (``catalog.views.labels_in``) and every row of the read (for
    ``tickets.service.tickets_in`` and ``payments.service.payments_in``)."""

    order: Any
    lines: list[Any]
    labelled: list[Any]
    rows: list[Any]


async def order_whole(session: AsyncSession, organizer_id: str, order_id: str) -> WholeOrder | None:
    """The organizer's order with its lines, tickets and payments in one statement (one round trip, one
    snapshot), for reading only. None when the organizer has no such order."""
    rows = list(await hotpath.execute(session, _ORDER_WHOLE, {"org": organizer_id, "order_id": order_id}))
    if not rows:
        return None
    keys = [_LINE + name for name in _LINE_COLUMNS]
    labelled = [r for r in rows if r._mapping[_LINE + "id"] is not None]
    lines: dict[str, Any] = {}
    for r in labelled:
        if r._mapping[_LINE + "id"] not in lines:
            lines[r._mapping[_LINE + "id"]] = LineRow(*(r._mapping[k] for k in keys))
    return WholeOrder(rows[0], list(lines.values()), labelled, rows)


async def status_of(
    session: AsyncSession, organizer_id: str, order_id: str, checks: Sequence[RowCheck] = ()
) -> Any | None:
    """The order's status columns; with ``checks``, and whether each holds (``hotpath.read_with_checks``)."""
    return await _read_checked(session, _STATUS, organizer_id, order_id, checks)


async def _read_checked(
    session: AsyncSession, stmt: Any, organizer_id: str, order_id: str, checks: Sequence[RowCheck]
) -> Any | None:
    params = {"org": organizer_id, "order_id": order_id}
    if checks:
        stmt, extra = hotpath.read_with_checks(stmt, organizer_id, checks)
        params |= extra
    return (await hotpath.execute(session, stmt, params)).one_or_none()


@dataclass(frozen=True)
class OrderHead:
    """What paying an order decides on: its identity, state and hold, as plain values read fresh."""

    id: str
    organizer_id: str
    status: str
    hold_id: str | None


async def head(session: AsyncSession, organizer_id: str, order_id: str) -> OrderHead | None:
    row = (await hotpath.execute(session, _HEAD, {"org": organizer_id, "order_id": order_id})).one_or_none()
    return OrderHead(*row) if row is not None else None


@dataclass(frozen=True)
class LockedForPayment:
    """A payment's facts and its order as read under the order's row lock, with the order's lines (``line_facts``
    rows, with their sessions' labels)."""

    payment: PaymentFacts
    order: OrderHead
    lines: list[Any]
    hold: LockedHold | None = None  # the order's hold, its row locked (None: the order has none)


async def lock_for_payment(session: AsyncSession, payment_id: str) -> LockedForPayment | None:
    """A payment's order, locked (``FOR UPDATE OF orders``, as ``lock``), with the payment's facts, the order's
    state read under that lock and its lines — one statement where it took four. None for an unknown payment.

    The order's state is the locked row's latest (PostgreSQL re-reads a row it waited to lock); the lines are of
    the statement's snapshot. What paying reads of them — session, ticket type, names, seat — is written when the
    order is placed and changed only on an order with tickets (a seat exchange), which a payment never issues
    again; a session cancelled meanwhile races the payment as it did with a read of its own."""
    return await payment_and_order(session, payment_id, lock=True)


async def payment_and_order(session: AsyncSession, payment_id: str, *, lock: bool) -> LockedForPayment | None:
    """``lock_for_payment``'s read; ``lock=False`` only for the race tests' control run (no guard)."""
    q = _PAYMENT_AND_ORDER_LOCKED if lock else _PAYMENT_AND_ORDER
    rows = list(await hotpath.execute(session, q, {"payment_id": payment_id}))
    if not rows:
        return None
    first = rows[0]
    pay = PaymentFacts(*first[:6])
    head = OrderHead(pay.order_id, pay.organizer_id, first.order_status, first.order_hold_id)
    hold = None
    if head.hold_id:
        hold = LockedHold(head.hold_id, first.hold_status, tuple(takes_of(first.hold_items)))
    return LockedForPayment(pay, head, [r for r in rows if r.id is not None], hold)


@dataclass(frozen=True)
class PayableOrder:
    """What starting a payment checks and asks for, read in one statement (no ORM entity)."""

    id: str
    organizer_id: str
    code: str
    status: str
    expires_at: datetime | None
    total_minor: int
    currency: str
    session_cancelled: bool  # a ticket of it is for a cancelled session


async def payable(
    session: AsyncSession, organizer_id: str, order_id: str, checks: Sequence[RowCheck] = ()
) -> tuple[PayableOrder | None, Any]:
    """→ the order as starting a payment sees it (None: not found), and the row read, which says whether each of
    ``checks`` held (``hotpath.failed_checks``)."""
    row = await _read_checked(session, _PAYABLE, organizer_id, order_id, checks)
    return (PayableOrder(*row[:8]) if row is not None else None), row


def still_pending(order_id: str, expires_at: datetime | None) -> RowCheck:
    """The precondition of writing an order's payment: the order is still pending, with the expiry its payable
    read saw (an order's ``expires_at`` is written once, when it is placed; the caller compares it with now)."""
    return RowCheck(
        "order", Order.__table__, order_id, (("status", str(OrderStatus.PENDING)), ("expires_at", expires_at))
    )


async def line_facts(session: AsyncSession, organizer_id: str, order_id: str) -> list[Any]:
    """An order's lines as plain rows (what paying them needs), in id order: no ORM entities; with their
    sessions' label columns (``catalog.views.labels_in``)."""
    return list(await hotpath.execute(session, _LINE_FACTS, {"org": organizer_id, "order_id": order_id}))


async def order_any_tenant(session: AsyncSession, order_id: str) -> Order | None:
    """Only for payment notifications, whose payment row already names the organizer."""
    return await session.get(Order, order_id)


async def lock(session: AsyncSession, organizer_id: str, order_id: str) -> None:
    """Lock the order's row until commit (PostgreSQL ``FOR UPDATE``; SQLite's write transaction already holds
    the database lock). Every writer of an order takes this row first, so writers never deadlock."""
    await session.execute(
        select(Order.id).where(Order.id == order_id, Order.organizer_id == organizer_id).with_for_update()
    )


async def by_code(session: AsyncSession, organizer_id: str, code: str) -> Order | None:
    q = select(Order).where(Order.code == code, Order.organizer_id == organizer_id)
    return (await session.execute(q)).scalar_one_or_none()


async def holdings(session: AsyncSession, line_ids: Sequence[str]) -> dict[str, list[Holding]]:
    """What each line holds, in the order the resolver listed it (ids are time-ordered)."""
    out: dict[str, list[Holding]] = {}
    if not line_ids:
        return out
    q = select(OrderLineHolding).where(OrderLineHolding.line_id.in_(list(line_ids))).order_by(OrderLineHolding.id)
    for h in (await session.execute(q)).scalars():
        held: Holding = (
            PoolHolding(h.pool_id, h.quantity) if h.pool_id is not None else UnitHolding(h.unit_id or "", h.mask)
        )
        out.setdefault(h.line_id, []).append(held)
    return out


async def lines(session: AsyncSession, order_ids: Sequence[str]) -> list[OrderLine]:
    if not order_ids:
        return []
    if len(order_ids) == 1:  # every order read and payment: the prebuilt statement
        return list((await session.execute(_LINES, {"order_id": order_ids[0]})).scalars())
    q = select(OrderLine).where(OrderLine.order_id.in_(list(order_ids))).order_by(OrderLine.id)
    return list((await session.execute(q)).scalars())


async def transition(
    session: AsyncSession,
    order_id: str,
    target: OrderStatus,
    *,
    only_from: frozenset[OrderStatus] | None = None,
    **values: Any,
) -> bool:
    """Conditional state change to ``target`` from the states the table (``states.TRANSITIONS``) allows — or
    only from ``only_from``, which must be allowed too. A transition the table forbids raises InvalidState before
    anything is written; False means the order was not (any longer) in a source state: a race lost, which the
    caller re-reads and decides on. True only for the caller whose update matched."""
    sources = allowed_sources(target, only_from)
    stmt = _transition_statement(target, sources, tuple(sorted(values)))
    res = await hotpath.execute(session, stmt, {"t_order_id": order_id, **{f"v_{k}": v for k, v in values.items()}})
    if res.rowcount != 1:
        return False
    # A Core update leaves the session's entities alone: an Order loaded in this session (staff paths hold one)
    # gets the written values, as the ORM update's "evaluate" synchronisation did — without building that
    # update, and walking it for its cache key, on every call.
    loaded = session.sync_session.identity_map.get(identity_key(Order, order_id))
    if loaded is not None:
        for key, value in {"status": str(target), **values}.items():
            set_committed_value(loaded, key, value)
    return True


def transition_with_mark(
    order_id: str, target: OrderStatus, *, only_from: frozenset[OrderStatus], **values: Any
) -> WithMark:
    """``transition`` as a write to ride in a payment's mark (``payments.repository.log_and_mark``): the same
    prebuilt conditional update, run by the mark's statement only when it marked the payment."""
    stmt = _transition_statement(target, allowed_sources(target, only_from), tuple(sorted(values)))
    return WithMark(stmt, {"t_order_id": order_id, **{f"v_{k}": v for k, v in values.items()}})


@lru_cache(maxsize=64)
def _transition_statement(target: OrderStatus, sources: frozenset[OrderStatus], keys: tuple[str, ...]) -> Any:
    """One prebuilt conditional update per (target, sources, columns written): a handful in all."""
    t = Order.__table__
    return (
        update(t)
        .where(t.c.id == bindparam("t_order_id"), t.c.status.in_(sorted(str(s) for s in sources)))
        .values(status=str(target), **{k: bindparam(f"v_{k}", type_=t.c[k].type) for k in keys})
    )


async def undo_paid(session: AsyncSession, order_id: str, back_to: OrderStatus, **values: Any) -> None:
    """Take back this transaction's own move to ``paid`` (its units could not be secured): no other transaction
    has seen the order paid, so this is not a transition of the table but the undoing of one. Only ``back_to`` a
    state the order could have been paid from."""
    if back_to not in sources_for(OrderStatus.PAID):
        raise InvalidState(state=str(back_to))
    await session.execute(
        update(Order).where(Order.id == order_id, Order.status == OrderStatus.PAID).values(status=back_to, **values)
    )


async def set_hold(session: AsyncSession, order_id: str, hold_id: str) -> None:
    """Point the order at the hold that now carries its units (a revived order's new hold)."""
    await session.execute(update(Order).where(Order.id == order_id).values(hold_id=hold_id))


async def add_refunded(session: AsyncSession, order_id: str, amount: int) -> bool:
    """refunded_minor += amount, only while refunded ≤ paid stays true."""
    res = await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.refunded_minor + amount <= Order.paid_minor)
        .values(refunded_minor=Order.refunded_minor + amount)
    )
    return res.rowcount == 1


def list_query(
    organizer_id: str, status: str | None, q: str | None, session_id: str | None = None
) -> Select[tuple[Order]]:
    stmt = select(Order).where(Order.organizer_id == organizer_id)
    if session_id:
        stmt = stmt.where(Order.id.in_(_of_session(organizer_id, session_id)))
    if status:
        stmt = stmt.where(Order.status == status)
    if q:
        term = q.strip()
        digits = "".join(ch for ch in term if ch.isdigit())
        # Literal search: "%" or "_" typed by someone match themselves, not every order (core.inputs.escape_like).
        conds = [Order.code == term.upper(), Order.buyer_name.contains(escape_like(term), escape=LIKE_ESCAPE)]
        if len(digits) >= 4:
            conds.append(Order.buyer_phone.contains(digits))
        if "@" in term:
            conds.append(Order.buyer_email == term.lower())
        stmt = stmt.where(or_(*conds))
    return stmt


async def line_counts(session: AsyncSession, order_ids: Sequence[str]) -> dict[str, int]:
    if not order_ids:
        return {}
    q = (
        select(OrderLine.order_id, func.count())
        .where(OrderLine.order_id.in_(list(order_ids)))
        .group_by(OrderLine.order_id)
    )
    return {oid: n for oid, n in (await session.execute(q)).all()}


async def due_pending(session: AsyncSession, now: datetime, limit: int) -> list[tuple[str, str]]:
    q = (
        select(Order.id, Order.organizer_id)
        .where(Order.status == OrderStatus.PENDING, Order.expires_at <= now)
        .order_by(Order.expires_at)
        .limit(limit)
    )
    return [(r.id, r.organizer_id) for r in (await session.execute(q)).all()]


async def set_line_status(session: AsyncSession, line_ids: Sequence[str], status: str, only_from: str) -> int:
    res = await session.execute(
        update(OrderLine).where(OrderLine.id.in_(list(line_ids)), OrderLine.status == only_from).values(status=status)
    )
    return res.rowcount


async def count_lines(session: AsyncSession, order_id: str, status: str) -> int:
    q = select(func.count()).select_from(OrderLine).where(OrderLine.order_id == order_id, OrderLine.status == status)
    return (await session.execute(q)).scalar_one()


def _of_session(organizer_id: str, session_id: str) -> Select[tuple[str]]:
    return select(OrderLine.order_id).where(OrderLine.organizer_id == organizer_id, OrderLine.session_id == session_id)


async def session_order_ids(
    session: AsyncSession, organizer_id: str, session_id: str, after: str | None, limit: int
) -> list[str]:
    """Ids of the orders with a ticket for this session, in id order, after ``after`` (keyset)."""
    q = select(OrderLine.order_id).where(OrderLine.organizer_id == organizer_id, OrderLine.session_id == session_id)
    if after is not None:
        q = q.where(OrderLine.order_id > after)
    q = q.distinct().order_by(OrderLine.order_id).limit(limit)
    return list((await session.execute(q)).scalars())


async def count_session_orders(session: AsyncSession, organizer_id: str, session_id: str) -> int:
    q = select(func.count(func.distinct(OrderLine.order_id))).where(
        OrderLine.organizer_id == organizer_id, OrderLine.session_id == session_id
    )
    return (await session.execute(q)).scalar_one()
