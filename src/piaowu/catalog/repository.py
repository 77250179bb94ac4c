from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, exists, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.catalog.models import Event, Session, TicketType, Venue
from piaowu.db.hotpath import Guard
from piaowu.seating.models import SessionSeating


async def event(session: AsyncSession, organizer_id: str, event_id: str) -> Event | None:
    q = select(Event).where(Event.id == event_id, Event.organizer_id == organizer_id)
    return (await session.execute(q)).scalar_one_or_none()


async def events_by_id(session: AsyncSession, organizer_id: str, ids: Sequence[str]) -> dict[str, Event]:
    if not ids:
        return {}
    q = select(Event).where(Event.organizer_id == organizer_id, Event.id.in_(list(ids)))
    return {e.id: e for e in (await session.execute(q)).scalars()}


def events_query(organizer_id: str, *, published_only: bool = False) -> Select[tuple[Event]]:
    q = select(Event).where(Event.organizer_id == organizer_id)
    if published_only:
        q = q.where(Event.is_published.is_(True))
    return q


async def events_with_sessions_after(
    session: AsyncSession, organizer_id: str, since: datetime, *, published_only: bool = False
) -> list[Event]:
    """The organizer's events with a session ending after ``since``, oldest event first."""
    live = select(Session.id).where(
        Session.organizer_id == organizer_id, Session.event_id == Event.id, Session.ends_at > since
    )
    q = events_query(organizer_id, published_only=published_only).where(exists(live))
    q = q.order_by(Event.created_at, Event.id)
    return list((await session.execute(q)).scalars())


async def venue(session: AsyncSession, organizer_id: str, venue_id: str | None) -> Venue | None:
    if venue_id is None:
        return None
    q = select(Venue).where(Venue.id == venue_id, Venue.organizer_id == organizer_id)
    return (await session.execute(q)).scalar_one_or_none()


async def venues_by_id(session: AsyncSession, organizer_id: str, ids: Sequence[str]) -> dict[str, Venue]:
    if not ids:
        return {}
    q = select(Venue).where(Venue.organizer_id == organizer_id, Venue.id.in_(list(ids)))
    return {v.id: v for v in (await session.execute(q)).scalars()}


def venues_query(organizer_id: str) -> Select[tuple[Venue]]:
    return select(Venue).where(Venue.organizer_id == organizer_id)


async def venue_by_name(session: AsyncSession, organizer_id: str, name: str) -> Venue | None:
    q = select(Venue).where(Venue.organizer_id == organizer_id, Venue.name == name).limit(1)
    return (await session.execute(q)).scalar_one_or_none()


async def sessions_of(session: AsyncSession, organizer_id: str, event_ids: Sequence[str]) -> list[Session]:
    if not event_ids:
        return []
    q = (
        select(Session)
        .where(Session.organizer_id == organizer_id, Session.event_id.in_(list(event_ids)))
        .order_by(Session.starts_at)
    )
    return list((await session.execute(q)).scalars())


async def session_(session: AsyncSession, organizer_id: str, session_id: str) -> Session | None:
    q = select(Session).where(Session.id == session_id, Session.organizer_id == organizer_id)
    return (await session.execute(q)).scalar_one_or_none()


# What a session's label needs, with its event's and venue's columns (their names in the rows are the keys).
_LABEL_COLUMNS = {
    "id": Session.id,
    "event_id": Session.event_id,
    "name": Session.name,
    "name_i18n": Session.name_i18n,
    "starts_at": Session.starts_at,
    "ends_at": Session.ends_at,
    "admission_opens_minutes": Session.admission_opens_minutes,
    "status": Session.status,
    "event_name": Event.name,
    "event_name_i18n": Event.name_i18n,
    "venue_id": Venue.id,
    "venue_name": Venue.name,
    "venue_name_i18n": Venue.name_i18n,
    "venue_address": Venue.address,
    "venue_address_i18n": Venue.address_i18n,
    "venue_timezone": Venue.timezone,
}
LABEL_PREFIX = "label_"


def _join_labels(stmt: Select[Any], org: Any) -> Select[Any]:
    return stmt.outerjoin(Event, (Event.id == Session.event_id) & (Event.organizer_id == org)).outerjoin(
        Venue, (Venue.id == Event.venue_id) & (Venue.organizer_id == org)
    )


def with_labels(stmt: Select[Any], session_id: Any, org: Any) -> Select[Any]:
    """``stmt`` (a prebuilt read of rows that name a session: order lines) with that session's label columns,
    prefixed ``LABEL_PREFIX`` and NULL when there is no such session of ``org`` — one read where there were two
    (``catalog.views.labels_in`` makes the labels of its rows)."""
    joined = stmt.add_columns(*[c.label(LABEL_PREFIX + k) for k, c in _LABEL_COLUMNS.items()]).outerjoin(
        Session, (Session.id == session_id) & (Session.organizer_id == org)
    )
    return _join_labels(joined, org)


_SHOWN = (
    select(Session.status, Event.is_published)
    .join(Event, Event.id == Session.event_id)
    .where(
        Session.id == bindparam("session_id"),
        Session.organizer_id == bindparam("organizer_id"),
        Event.organizer_id == bindparam("organizer_id"),
    )
)  # built once: every seat-availability answer the shop computes reads it


async def session_shown(session: AsyncSession, organizer_id: str, session_id: str) -> tuple[str, bool] | None:
    """(session status, event published) of the organizer's session, or None: one Core read of two columns."""
    row = (await session.execute(_SHOWN, {"session_id": session_id, "organizer_id": organizer_id})).first()
    return None if row is None else (row[0], row[1])


# Built once (a statement built per call costs its construction and its cache-key walk): the payment
# notification and every order read print these labels.
_LABEL_ROWS = _join_labels(
    select(*[c.label(k) for k, c in _LABEL_COLUMNS.items()]).select_from(Session), bindparam("org")
).where(Session.organizer_id == bindparam("org"), Session.id.in_(bindparam("ids", expanding=True)))


async def label_rows(session: AsyncSession, organizer_id: str, ids: Sequence[str]) -> list[Any]:
    """What a session's label needs, with its event's and venue's columns, in ONE joined read of plain columns
    (three entity queries before: the payment notification and every order read print these)."""
    if not ids:
        return []
    return list(await session.execute(_LABEL_ROWS, {"org": organizer_id, "ids": list(ids)}))


async def sessions_by_id(session: AsyncSession, organizer_id: str, ids: Sequence[str]) -> dict[str, Session]:
    if not ids:
        return {}
    q = select(Session).where(Session.organizer_id == organizer_id, Session.id.in_(list(ids)))
    return {s.id: s for s in (await session.execute(q)).scalars()}


async def ticket_types_of(session: AsyncSession, organizer_id: str, session_ids: Sequence[str]) -> list[TicketType]:
    if not session_ids:
        return []
    q = (
        select(TicketType)
        .where(TicketType.organizer_id == organizer_id, TicketType.session_id.in_(list(session_ids)))
        .order_by(TicketType.sort_order, TicketType.price_minor.desc(), TicketType.created_at)
    )
    return list((await session.execute(q)).scalars())


async def ticket_type(session: AsyncSession, organizer_id: str, ticket_type_id: str) -> TicketType | None:
    q = select(TicketType).where(TicketType.id == ticket_type_id, TicketType.organizer_id == organizer_id)
    return (await session.execute(q)).scalar_one_or_none()


async def offers(session: AsyncSession, organizer_id: str, ticket_type_ids: Sequence[str]):  # noqa: ANN201
    """Ticket types with their session and event in one query (the sale path reads nothing else). Plain
    columns, not ORM entities: this runs on every order and entity loading was a quarter of its CPU."""
    t, s = TicketType, Session
    q = (
        select(
            t.id,
            t.name,
            t.name_i18n,
            t.price_minor,
            t.currency,
            t.min_per_order,
            t.max_per_order,
            t.is_active,
            t.pool_id.label("quota_pool_id"),
            s.id.label("session_id"),
            s.name.label("session_name"),
            s.name_i18n.label("session_name_i18n"),
            s.pool_id,
            s.status,
            s.starts_at,
            s.ends_at,
            s.sales_start,
            s.sales_end,
            s.admission_opens_minutes,
            Event.name.label("event_name"),
            Event.name_i18n.label("event_name_i18n"),
            # Whether the session sells assigned seats: a pk probe of session_seating in the same query.
            exists(select(SessionSeating.session_id).where(SessionSeating.session_id == s.id)).label("seated"),
        )
        .join(Session, Session.id == TicketType.session_id)
        .join(Event, Event.id == Session.event_id)
        .where(TicketType.organizer_id == organizer_id, TicketType.id.in_(list(ticket_type_ids)))
    )
    return (await session.execute(q)).all()


async def set_status_from(
    session: AsyncSession, organizer_id: str, session_id: str, source: Sequence[str], status: str
) -> bool:
    """Conditional status change: True only for the caller whose update matched ``source``."""
    res = await session.execute(
        update(Session)
        .where(Session.id == session_id, Session.organizer_id == organizer_id, Session.status.in_(list(source)))
        .values(status=status)
    )
    return res.rowcount == 1


async def cancelled_among(session: AsyncSession, organizer_id: str, session_ids: Sequence[str]) -> set[str]:
    if not session_ids:
        return set()
    q = select(Session.id).where(
        Session.organizer_id == organizer_id, Session.id.in_(list(session_ids)), Session.status == "cancelled"
    )
    return set((await session.execute(q)).scalars())


# A ticket type's own sales counter as a write another area's statement can carry (the notification's tickets
# insert, ``ticket_type_service.sales_writes``): no condition, the row must exist (the lines' foreign key).
SOLD = Guard("ticket_type_sold", TicketType.__table__, "sold", lambda c, n: true(), lambda c, n: {"sold": c.sold + n})


async def add_sold(session: AsyncSession, organizer_id: str, ticket_type_id: str, n: int) -> None:
    await session.execute(
        update(TicketType)
        .where(TicketType.organizer_id == organizer_id, TicketType.id == ticket_type_id)
        .values(sold=TicketType.sold + n)
    )
