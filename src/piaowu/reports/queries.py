"""Read-only SQL for the back office: today's figures, upcoming sessions, an order's audit trail.

The read side is the one place allowed to query other areas' tables directly (never to write them), so a
dashboard is a few aggregate statements instead of a walk through every service. Every query is scoped by
organizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.accounts.models import ApiToken, StaffUser
from piaowu.audit.models import AuditEvent
from piaowu.catalog.models import Event, Session
from piaowu.catalog.texts import pick
from piaowu.checkin.models import Scan
from piaowu.core.reading_locale import current
from piaowu.inventory import repository as inventory_repo
from piaowu.inventory.models import Pool
from piaowu.orders.models import Order, OrderLine
from piaowu.payments.models import Payment, Refund


@dataclass(frozen=True)
class SalesFigures:
    orders: int
    tickets: int
    revenue_minor: int
    refunded_minor: int


@dataclass(frozen=True)
class SessionLoad:
    session_id: str
    event_id: str
    event_name: str
    session_name: str
    starts_at: datetime
    status: str
    capacity: int
    held: int
    sold: int


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str  # the raw reference: "user:<id>", "token:<id>", "customer:<phone>", "system:<job>"
    action: str
    subject_type: str
    subject_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    actor_kind: str = ""
    actor_name: str = ""  # a staff member's or token's name; empty for customers and the system


async def sales_between(session: AsyncSession, organizer_id: str, start: datetime, end: datetime) -> SalesFigures:
    """Orders paid in [start, end): how many, their tickets, the money taken; and refunds completed then."""
    paid = select(func.count(Order.id), func.coalesce(func.sum(Order.paid_minor), 0)).where(
        Order.organizer_id == organizer_id, Order.paid_at >= start, Order.paid_at < end
    )
    orders, revenue = (await session.execute(paid)).one()
    tickets = await session.scalar(
        select(func.count(OrderLine.id))
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.organizer_id == organizer_id, Order.paid_at >= start, Order.paid_at < end)
    )
    refunded = await session.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.organizer_id == organizer_id,
            Refund.status == "succeeded",
            Refund.completed_at >= start,
            Refund.completed_at < end,
        )
    )
    return SalesFigures(int(orders or 0), int(tickets or 0), int(revenue or 0), int(refunded or 0))


async def admissions_between(session: AsyncSession, organizer_id: str, start: datetime, end: datetime) -> int:
    return int(
        await session.scalar(
            select(func.count(Scan.id)).where(
                Scan.organizer_id == organizer_id,
                Scan.result == "admitted",
                Scan.direction == "in",
                Scan.scanned_at >= start,
                Scan.scanned_at < end,
            )
        )
        or 0
    )


async def upcoming_sessions(
    session: AsyncSession, organizer_id: str, now: datetime, limit: int = 8
) -> list[SessionLoad]:
    """Sessions not yet over (and not cancelled), soonest first, with their pool's counts as the inventory gives
    them (``inventory.repository.counts``: a seated session's are its seats' live claims); the event's and
    session's names in the reader's language (``core.reading_locale``), as the catalog's read models give them."""
    lang = current()
    q = (
        select(
            Session.id,
            Session.event_id,
            Event.name,
            Event.name_i18n,
            Session.name,
            Session.name_i18n,
            Session.starts_at,
            Session.status,
            Pool.id,
        )
        .join(Event, Event.id == Session.event_id)
        .join(Pool, Pool.id == Session.pool_id)
        .where(Session.organizer_id == organizer_id, Session.ends_at > now, Session.status != "cancelled")
        .order_by(Session.starts_at, Session.id)
        .limit(limit)
    )
    rows = (await session.execute(q)).all()
    counts = await inventory_repo.counts(session, organizer_id, [pool_id for *_, pool_id in rows])
    out = []
    for sid, eid, ev_name, ev_texts, s_name, s_texts, starts_at, status, pool_id in rows:
        c = counts[pool_id]
        names = pick(ev_texts, lang, ev_name), pick(s_texts, lang, s_name)
        out.append(SessionLoad(sid, eid, *names, starts_at, status, c.capacity, c.held, c.sold))
    return out


async def order_audit(session: AsyncSession, organizer_id: str, order_id: str) -> list[AuditEntry]:
    """What happened to an order, oldest first: its own events and those of its payments and refunds."""
    payment_ids: Sequence[str] = (
        await session.scalars(
            select(Payment.id).where(Payment.organizer_id == organizer_id, Payment.order_id == order_id)
        )
    ).all()
    refund_ids: Sequence[str] = (
        await session.scalars(select(Refund.id).where(Refund.organizer_id == organizer_id, Refund.order_id == order_id))
    ).all()
    subjects = [AuditEvent.subject_id == order_id]
    if payment_ids:
        subjects.append(AuditEvent.subject_id.in_(payment_ids))
    if refund_ids:
        subjects.append(AuditEvent.subject_id.in_(refund_ids))
    q = (
        select(
            AuditEvent.at,
            AuditEvent.actor,
            AuditEvent.action,
            AuditEvent.subject_type,
            AuditEvent.subject_id,
            AuditEvent.before,
            AuditEvent.after,
        )
        .where(AuditEvent.organizer_id == organizer_id, or_(*subjects))
        .order_by(AuditEvent.at, AuditEvent.id)
        .limit(500)
    )
    rows = (await session.execute(q)).all()
    names = await _actor_names(session, organizer_id, [row.actor for row in rows])
    return [
        AuditEntry(*row, actor_kind=row.actor.partition(":")[0], actor_name=names.get(row.actor, "")) for row in rows
    ]


async def _actor_names(session: AsyncSession, organizer_id: str, refs: Sequence[str]) -> dict[str, str]:
    users = {r.partition(":")[2] for r in refs if r.startswith("user:")}
    tokens = {r.partition(":")[2] for r in refs if r.startswith("token:")}
    names: dict[str, str] = {}
    if users:
        q = select(StaffUser.id, StaffUser.name).where(StaffUser.organizer_id == organizer_id, StaffUser.id.in_(users))
        names.update({f"user:{i}": n for i, n in (await session.execute(q)).all()})
    if tokens:
        q = select(ApiToken.id, ApiToken.name).where(ApiToken.organizer_id == organizer_id, ApiToken.id.in_(tokens))
        names.update({f"token:{i}": n for i, n in (await session.execute(q)).all()})
    return names
