"""Queries of sessions in series and event-level ticket types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.catalog.models import Event, EventTicketType, Session, TicketType


async def lock_event(session: AsyncSession, organizer_id: str, event_id: str) -> None:
    """Lock the event's row until commit, so that two generations for one event run one after the other and
    the second sees the first one's sessions (PostgreSQL ``FOR UPDATE``; SQLite's write transaction already
    holds the database)."""
    await session.execute(
        select(Event.id).where(Event.id == event_id, Event.organizer_id == organizer_id).with_for_update()
    )


async def session_starts(session: AsyncSession, organizer_id: str, event_id: str) -> dict[datetime, str]:
    """Start moment → session id of the event's sessions (the first one when two start together)."""
    q = (
        select(Session.starts_at, Session.id)
        .where(Session.organizer_id == organizer_id, Session.event_id == event_id)
        .order_by(Session.created_at.desc())
    )
    return {starts_at: sid for starts_at, sid in (await session.execute(q)).all()}


async def definitions_of(session: AsyncSession, organizer_id: str, event_id: str) -> list[EventTicketType]:
    q = (
        select(EventTicketType)
        .where(EventTicketType.organizer_id == organizer_id, EventTicketType.event_id == event_id)
        .order_by(EventTicketType.sort_order, EventTicketType.price_minor.desc(), EventTicketType.created_at)
    )
    return list((await session.execute(q)).scalars())


async def definition(session: AsyncSession, organizer_id: str, definition_id: str) -> EventTicketType | None:
    q = select(EventTicketType).where(EventTicketType.id == definition_id, EventTicketType.organizer_id == organizer_id)
    return (await session.execute(q)).scalar_one_or_none()


async def linked_counts(session: AsyncSession, organizer_id: str, definition_ids: Sequence[str]) -> dict[str, int]:
    if not definition_ids:
        return {}
    q = (
        select(TicketType.definition_id, func.count())
        .where(TicketType.organizer_id == organizer_id, TicketType.definition_id.in_(list(definition_ids)))
        .group_by(TicketType.definition_id)
    )
    return {d: n for d, n in (await session.execute(q)).all()}


async def linked_types(session: AsyncSession, organizer_id: str, definition_id: str) -> list[TicketType]:
    q = (
        select(TicketType)
        .where(TicketType.organizer_id == organizer_id, TicketType.definition_id == definition_id)
        .order_by(TicketType.id)  # a fixed order, as every multi-row update here
    )
    return list((await session.execute(q)).scalars())
