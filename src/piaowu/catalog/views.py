"""Catalog read models: events, sessions and ticket types as pages and the API show them (with live
availability from the inventory engine), and the labels other areas print on orders, tickets and gates.

Texts are in the reader's language (``core.reading_locale``, set per request) with the fallback of
``catalog.texts.pick``; the ``*_i18n`` maps carry every language for clients that want them all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piaowu.catalog import repository as repo
from piaowu.catalog.models import Event, Session
from piaowu.catalog.rules import pools_of, sale_state
from piaowu.catalog.schemas import EventOut, SessionOut, TicketTypeOut
from piaowu.catalog.texts import pick
from piaowu.core.errors import NotFound
from piaowu.core.reading_locale import current
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.inventory.rules import PoolCounts, offer_availability


def snapshot(obj: object, fields: Sequence[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in fields:
        v = getattr(obj, f)
        out[f] = v.isoformat() if isinstance(v, datetime) else v
    return out


async def event_or_404(uow: UnitOfWork, organizer_id: str, event_id: str) -> Event:
    ev = await repo.event(uow.session, organizer_id, event_id)
    if ev is None:
        raise NotFound(kind="event")
    return ev


async def event_out(uow: UnitOfWork, organizer_id: str, ev: Event, *, with_sessions: bool = True) -> EventOut:
    return (await events_out(uow, organizer_id, [ev], with_sessions=with_sessions))[0]


async def events_out(
    uow: UnitOfWork, organizer_id: str, events: Sequence[Event], *, with_sessions: bool = True
) -> list[EventOut]:
    venues = await repo.venues_by_id(uow.session, organizer_id, [e.venue_id for e in events if e.venue_id])
    sessions = await repo.sessions_of(uow.session, organizer_id, [e.id for e in events]) if with_sessions else []
    session_outs = await sessions_out(uow, organizer_id, sessions)
    by_event: dict[str, list[SessionOut]] = {}
    for so in session_outs:
        by_event.setdefault(so.event_id, []).append(so)
    out = []
    lang = current()
    for e in events:
        v = venues.get(e.venue_id or "")
        out.append(
            EventOut(
                id=e.id,
                kind=e.kind,
                name=pick(e.name_i18n, lang, e.name),
                description=pick(e.description_i18n, lang, e.description),
                name_i18n=e.name_i18n or {},
                description_i18n=e.description_i18n or {},
                venue_id=e.venue_id,
                venue_name=pick(v.name_i18n, lang, v.name) if v else "",
                venue_address=pick(v.address_i18n, lang, v.address) if v else "",
                venue_timezone=v.timezone if v else "",
                is_published=e.is_published,
                created_at=e.created_at,
                sessions=by_event.get(e.id, []),
            )
        )
    return out


async def sessions_out(uow: UnitOfWork, organizer_id: str, sessions: Sequence[Session]) -> list[SessionOut]:
    types = await repo.ticket_types_of(uow.session, organizer_id, [s.id for s in sessions])
    pool_ids = [s.pool_id for s in sessions] + [t.pool_id for t in types if t.pool_id]
    counts = await inventory.counts(uow, organizer_id, pool_ids)
    now = uow.now()
    by_session: dict[str, list[TicketTypeOut]] = {}
    empty = PoolCounts(0, 0, 0)
    lang = current()
    for t in types:
        s = next(x for x in sessions if x.id == t.session_id)
        by_session.setdefault(t.session_id, []).append(
            TicketTypeOut(
                id=t.id,
                session_id=t.session_id,
                name=pick(t.name_i18n, lang, t.name),
                description=pick(t.description_i18n, lang, t.description),
                name_i18n=t.name_i18n or {},
                description_i18n=t.description_i18n or {},
                price_minor=t.price_minor,
                currency=t.currency,
                quota=t.quota,
                min_per_order=t.min_per_order,
                max_per_order=t.max_per_order,
                sort_order=t.sort_order,
                is_active=t.is_active,
                available=offer_availability(counts.get(p, empty) for p in pools_of(s.pool_id, t.pool_id)),
                # Its own counter: a type without a quota shares the session's pool, whose ``sold`` is every type's.
                sold=t.sold,
                definition_id=t.definition_id,
                price_overridden=t.price_overridden,
            )
        )
    out = []
    for s in sessions:
        c = counts.get(s.pool_id, empty)
        out.append(
            SessionOut(
                id=s.id,
                event_id=s.event_id,
                name=pick(s.name_i18n, lang, s.name),
                name_i18n=s.name_i18n or {},
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                sales_start=s.sales_start,
                sales_end=s.sales_end,
                status=s.status,
                sale_state=sale_state(s.status, now, s.starts_at, s.ends_at, s.sales_start, s.sales_end),
                capacity=c.capacity,
                held=c.held,
                sold=c.sold,
                available=c.available,
                admission_opens_minutes=s.admission_opens_minutes,
                ticket_types=by_session.get(s.id, []),
            )
        )
    return out


async def session_or_404(uow: UnitOfWork, organizer_id: str, session_id: str) -> Session:
    s = await repo.session_(uow.session, organizer_id, session_id)
    if s is None:
        raise NotFound(kind="session")
    return s


async def ticket_type_out(uow: UnitOfWork, organizer_id: str, ticket_type_id: str) -> TicketTypeOut:
    t = await repo.ticket_type(uow.session, organizer_id, ticket_type_id)
    if t is None:
        raise NotFound(kind="ticket type")
    s = await session_or_404(uow, organizer_id, t.session_id)
    out = await sessions_out(uow, organizer_id, [s])
    return next(x for x in out[0].ticket_types if x.id == ticket_type_id)


@dataclass(frozen=True)
class SessionLabel:
    id: str
    event_id: str
    event_name: str
    name: str
    starts_at: datetime
    ends_at: datetime
    admission_opens_minutes: int
    status: str
    venue: str = ""  # "name, address" of the event's venue, for tickets that say where to go
    timezone: str = ""  # the venue's IANA zone; "" when it has none (show times in the organizer's)


async def session_labels(uow: UnitOfWork, organizer_id: str, session_ids: Sequence[str]) -> dict[str, SessionLabel]:
    """Names, times and venues of sessions, for orders, tickets and gates to display (published or not: a ticket
    sold at the box office for an unlisted event still says where to go)."""
    lang = current()
    rows = await repo.label_rows(uow.session, organizer_id, list(set(session_ids)))
    return {r.id: _label(r._mapping, "", lang) for r in rows}


def labels_in(rows: Sequence[Any]) -> dict[str, SessionLabel]:
    """The labels of the sessions that rows read ``with_labels`` (``repository.with_labels``) name, as
    ``session_labels`` would read them (a row whose session is not the organizer's has none)."""
    lang = current()
    key = repo.LABEL_PREFIX + "id"
    return {r._mapping[key]: _label(r._mapping, repo.LABEL_PREFIX, lang) for r in rows if r._mapping[key] is not None}


def _label(r: Mapping[str, Any], prefix: str, lang: str | None) -> SessionLabel:
    def col(name: str) -> Any:
        return r[prefix + name]

    has_venue = col("venue_id") is not None
    where = (
        (
            pick(col("venue_name_i18n"), lang, col("venue_name")),
            pick(col("venue_address_i18n"), lang, col("venue_address")),
        )
        if has_venue
        else ()
    )
    return SessionLabel(
        col("id"),
        col("event_id"),
        pick(col("event_name_i18n"), lang, col("event_name")) if col("event_name") is not None else "",
        pick(col("name_i18n"), lang, col("name")),
        col("starts_at"),
        col("ends_at"),
        col("admission_opens_minutes"),
        col("status"),
        ", ".join(x for x in where if x),
        col("venue_timezone") if has_venue else "",
    )
