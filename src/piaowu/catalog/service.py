"""Catalog use cases: events, sessions (each with its capacity pool) and ticket types (optional quota pool).

What a ticket type consumes is decided here and only here (``Offer.pool_ids``): the session's pool, plus the
ticket type's quota pool when it has a quota. Later products add their pools the same way (a slot pool, a
channel allotment) without the inventory engine or orders changing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import repository as repo
from piaowu.catalog.models import Event, Session, TicketType, Venue
from piaowu.catalog.rules import (
    TRANSITIONS,
    SaleState,
    SessionStatus,
    check_transition,
    sale_state,
    validate_session_times,
    validate_ticket_type,
)
from piaowu.catalog.schemas import (
    EventIn,
    EventOut,
    EventPage,
    EventPatch,
    SessionIn,
    SessionOut,
    SessionPatch,
    TicketTypeIn,
    TicketTypeOut,
    TicketTypePatch,
)
from piaowu.core.actor import Actor
from piaowu.core.errors import InvalidState, NotFound, ValidationFailed
from piaowu.db.pagination import paginate
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.inventory.rules import PoolCounts, offer_availability
from piaowu.organizers import service as organizers


@dataclass(frozen=True)
class Offer:
    """A ticket type resolved for sale: price, limits, the pools one unit consumes, and when it is valid."""

    ticket_type_id: str
    name: str
    price_minor: int
    currency: str
    min_per_order: int
    max_per_order: int
    is_active: bool
    pool_ids: tuple[str, ...]
    session_id: str
    session_name: str
    event_name: str
    sale_state: SaleState
    starts_at: datetime
    ends_at: datetime
    admission_opens_minutes: int


def _pools_of(session_pool_id: str, quota_pool_id: str | None) -> tuple[str, ...]:
    """What one unit of a ticket type consumes: its session's pool, plus its quota pool when it has one."""
    return (session_pool_id, quota_pool_id) if quota_pool_id else (session_pool_id,)


def _pool_label(*names: str) -> str:
    """A pool's label from the names it counts for (event + session). Each name may use its whole documented
    length, so the label can be longer than its column: ``inventory.create_pool`` cuts it to fit."""
    return " ".join(n.strip() for n in names if n.strip())


def _snapshot(obj: object, fields: Sequence[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in fields:
        v = getattr(obj, f)
        out[f] = v.isoformat() if isinstance(v, datetime) else v
    return out


EVENT_FIELDS = ("name", "kind", "description", "venue_id", "is_published")
SESSION_FIELDS = (
    "name",
    "starts_at",
    "ends_at",
    "sales_start",
    "sales_end",
    "status",
    "capacity",
    "admission_opens_minutes",
)
TT_FIELDS = ("name", "description", "price_minor", "quota", "min_per_order", "max_per_order", "sort_order", "is_active")


async def _venue_for(uow: UnitOfWork, organizer_id: str, name: str, address: str) -> Venue | None:
    if not name:
        return None
    venue = await repo.venue_by_name(uow.session, organizer_id, name)
    if venue is None:
        venue = Venue(organizer_id=organizer_id, name=name, address=address, created_at=uow.now())
        uow.session.add(venue)
        await uow.session.flush()
    elif address and venue.address != address:
        venue.address = address
    return venue


# ---- events ---------------------------------------------------------------------------------------------


async def create_event(uow: UnitOfWork, actor: Actor, data: EventIn) -> EventOut:
    actor.require(Permission.CATALOG_WRITE)
    venue = await _venue_for(uow, actor.organizer_id, data.venue_name.strip(), data.venue_address.strip())
    ev = Event(
        organizer_id=actor.organizer_id,
        venue_id=venue.id if venue else None,
        kind=data.kind,
        name=data.name.strip(),
        description=data.description,
        is_published=data.is_published,
        created_at=uow.now(),
    )
    uow.session.add(ev)
    await uow.session.flush()
    record(uow, actor, "event.created", "event", ev.id, after=_snapshot(ev, EVENT_FIELDS))
    return await _event_out(uow, actor.organizer_id, ev, with_sessions=False)


async def update_event(uow: UnitOfWork, actor: Actor, event_id: str, data: EventPatch) -> EventOut:
    actor.require(Permission.CATALOG_WRITE)
    ev = await _event(uow, actor.organizer_id, event_id)
    before = _snapshot(ev, EVENT_FIELDS)
    changes = data.model_dump(exclude_unset=True)
    if "venue_name" in changes or "venue_address" in changes:
        current = await repo.venue(uow.session, actor.organizer_id, ev.venue_id)
        name = changes.pop("venue_name", None)
        address = changes.pop("venue_address", None)
        venue = await _venue_for(
            uow,
            actor.organizer_id,
            (name if name is not None else (current.name if current else "")).strip(),
            (address if address is not None else (current.address if current else "")).strip(),
        )
        ev.venue_id = venue.id if venue else None
    for key, value in changes.items():
        if value is not None:
            setattr(ev, key, value.strip() if key == "name" else value)
    record(uow, actor, "event.updated", "event", ev.id, before=before, after=_snapshot(ev, EVENT_FIELDS))
    return await _event_out(uow, actor.organizer_id, ev)


async def get_event(uow: UnitOfWork, actor: Actor, event_id: str) -> EventOut:
    actor.require(Permission.CATALOG_READ)
    return await _event_out(uow, actor.organizer_id, await _event(uow, actor.organizer_id, event_id))


async def list_events(uow: UnitOfWork, actor: Actor, *, cursor: str | None = None, limit: int = 50) -> EventPage:
    actor.require(Permission.CATALOG_READ)
    page = await paginate(uow.session, repo.events_query(actor.organizer_id), Event, cursor, limit)
    return EventPage(items=await _events_out(uow, actor.organizer_id, page.items), next_cursor=page.next_cursor)


async def published_events(uow: UnitOfWork, organizer_id: str) -> list[EventOut]:
    """The shop's list: published events with their visible sessions (on sale, paused or closed)."""
    q = repo.events_query(organizer_id, published_only=True).order_by(Event.created_at.desc()).limit(200)
    events = list((await uow.session.execute(q)).scalars())
    out = await _events_out(uow, organizer_id, events)
    for ev in out:
        ev.sessions = [s for s in ev.sessions if s.status not in (SessionStatus.DRAFT, SessionStatus.CANCELLED)]
    return [ev for ev in out if ev.sessions]


async def public_session(uow: UnitOfWork, organizer_id: str, session_id: str) -> tuple[EventOut, SessionOut]:
    """A session as the shop shows it; drafts and unpublished events are not found."""
    s = await repo.session_(uow.session, organizer_id, session_id)
    if s is None or s.status == SessionStatus.DRAFT:
        raise NotFound(kind="session")
    ev = await repo.event(uow.session, organizer_id, s.event_id)
    if ev is None or not ev.is_published:
        raise NotFound(kind="session")
    out = await _event_out(uow, organizer_id, ev)
    session_out = next(x for x in out.sessions if x.id == session_id)
    session_out.ticket_types = [t for t in session_out.ticket_types if t.is_active]
    return out, session_out


async def _event(uow: UnitOfWork, organizer_id: str, event_id: str) -> Event:
    ev = await repo.event(uow.session, organizer_id, event_id)
    if ev is None:
        raise NotFound(kind="event")
    return ev


async def _event_out(uow: UnitOfWork, organizer_id: str, ev: Event, *, with_sessions: bool = True) -> EventOut:
    return (await _events_out(uow, organizer_id, [ev], with_sessions=with_sessions))[0]


async def _events_out(
    uow: UnitOfWork, organizer_id: str, events: Sequence[Event], *, with_sessions: bool = True
) -> list[EventOut]:
    venues = await repo.venues_by_id(uow.session, organizer_id, [e.venue_id for e in events if e.venue_id])
    sessions = await repo.sessions_of(uow.session, organizer_id, [e.id for e in events]) if with_sessions else []
    session_outs = await _sessions_out(uow, organizer_id, sessions)
    by_event: dict[str, list[SessionOut]] = {}
    for so in session_outs:
        by_event.setdefault(so.event_id, []).append(so)
    out = []
    for e in events:
        v = venues.get(e.venue_id or "")
        out.append(
            EventOut(
                id=e.id,
                kind=e.kind,
                name=e.name,
                description=e.description,
                venue_name=v.name if v else "",
                venue_address=v.address if v else "",
                is_published=e.is_published,
                created_at=e.created_at,
                sessions=by_event.get(e.id, []),
            )
        )
    return out


async def _sessions_out(uow: UnitOfWork, organizer_id: str, sessions: Sequence[Session]) -> list[SessionOut]:
    types = await repo.ticket_types_of(uow.session, organizer_id, [s.id for s in sessions])
    pool_ids = [s.pool_id for s in sessions] + [t.pool_id for t in types if t.pool_id]
    counts = await inventory.counts(uow, organizer_id, pool_ids)
    now = uow.now()
    by_session: dict[str, list[TicketTypeOut]] = {}
    empty = PoolCounts(0, 0, 0)
    for t in types:
        s = next(x for x in sessions if x.id == t.session_id)
        by_session.setdefault(t.session_id, []).append(
            TicketTypeOut(
                id=t.id,
                session_id=t.session_id,
                name=t.name,
                description=t.description,
                price_minor=t.price_minor,
                currency=t.currency,
                quota=t.quota,
                min_per_order=t.min_per_order,
                max_per_order=t.max_per_order,
                sort_order=t.sort_order,
                is_active=t.is_active,
                available=offer_availability(counts.get(p, empty) for p in _pools_of(s.pool_id, t.pool_id)),
                # Its own counter: a type without a quota shares the session's pool, whose ``sold`` is every type's.
                sold=t.sold,
            )
        )
    out = []
    for s in sessions:
        c = counts.get(s.pool_id, empty)
        out.append(
            SessionOut(
                id=s.id,
                event_id=s.event_id,
                name=s.name,
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


# ---- sessions -------------------------------------------------------------------------------------------


async def create_session(uow: UnitOfWork, actor: Actor, event_id: str, data: SessionIn) -> SessionOut:
    """Creates a session and its capacity pool in one transaction."""
    actor.require(Permission.CATALOG_WRITE)
    ev = await _event(uow, actor.organizer_id, event_id)
    errors = validate_session_times(data.starts_at, data.ends_at, data.sales_start, data.sales_end)
    if errors:
        raise ValidationFailed(errors)
    status = check_transition(SessionStatus.DRAFT, data.status)
    pool_id = await inventory.create_pool(
        uow, actor.organizer_id, kind="session", capacity=data.capacity, label=_pool_label(ev.name, data.name)
    )
    s = Session(
        organizer_id=actor.organizer_id,
        event_id=ev.id,
        name=data.name.strip(),
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        sales_start=data.sales_start,
        sales_end=data.sales_end,
        status=status,
        capacity=data.capacity,
        pool_id=pool_id,
        admission_opens_minutes=data.admission_opens_minutes,
        created_at=uow.now(),
    )
    uow.session.add(s)
    await uow.session.flush()
    record(uow, actor, "session.created", "session", s.id, after=_snapshot(s, SESSION_FIELDS))
    return (await _sessions_out(uow, actor.organizer_id, [s]))[0]


async def get_session(uow: UnitOfWork, actor: Actor, session_id: str) -> SessionOut:
    actor.require(Permission.CATALOG_READ)
    return (await _sessions_out(uow, actor.organizer_id, [await _session(uow, actor.organizer_id, session_id)]))[0]


async def _session(uow: UnitOfWork, organizer_id: str, session_id: str) -> Session:
    s = await repo.session_(uow.session, organizer_id, session_id)
    if s is None:
        raise NotFound(kind="session")
    return s


async def update_session(uow: UnitOfWork, actor: Actor, session_id: str, data: SessionPatch) -> SessionOut:
    """Edits times, capacity (never below what is held or sold) and status (along allowed transitions)."""
    actor.require(Permission.CATALOG_WRITE)
    s = await _session(uow, actor.organizer_id, session_id)
    before = _snapshot(s, SESSION_FIELDS)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("status") is not None:
        target = check_transition(s.status, changes.pop("status"))
        if target == SessionStatus.CANCELLED and s.status != SessionStatus.CANCELLED:
            # Cancelling also cancels and refunds the session's orders: only orders.session_cancel does that.
            raise ValidationFailed(
                [
                    {
                        "field": "status",
                        "code": "use_cancel",
                        "message": "A session is cancelled with its own action, which also cancels and refunds "
                        "its orders.",
                    }
                ]
            )
        s.status = target
    changes.pop("status", None)
    if changes.get("capacity") is not None:
        await inventory.set_capacity(uow, actor.organizer_id, s.pool_id, changes["capacity"])
    for key, value in changes.items():
        if value is not None or key in ("sales_start", "sales_end"):
            setattr(s, key, value)
    errors = validate_session_times(s.starts_at, s.ends_at, s.sales_start, s.sales_end)
    if errors:
        raise ValidationFailed(errors)
    record(uow, actor, "session.updated", "session", s.id, before=before, after=_snapshot(s, SESSION_FIELDS))
    await uow.session.flush()
    return (await _sessions_out(uow, actor.organizer_id, [s]))[0]


async def cancel_session(uow: UnitOfWork, actor: Actor, session_id: str) -> SessionOut:
    """The status flip of a cancellation, and only that: from now on the session sells nothing (its offers are
    ``unavailable``), payments for its orders are refused and gates answer ``session_cancelled``. Call it through
    ``orders.session_cancel.cancel_session``, which starts the job that cancels and refunds its orders in the
    same transaction. Raises InvalidState when the session is already cancelled."""
    actor.require(Permission.CATALOG_WRITE)
    s = await _session(uow, actor.organizer_id, session_id)
    check_transition(s.status, SessionStatus.CANCELLED)
    before = s.status
    sources = [str(x) for x, targets in TRANSITIONS.items() if SessionStatus.CANCELLED in targets]
    # Conditional, so two operators cancelling at once start one job, not two.
    if not await repo.set_status_from(uow.session, actor.organizer_id, s.id, sources, SessionStatus.CANCELLED):
        raise InvalidState(state=str(SessionStatus.CANCELLED))
    await uow.session.refresh(s)
    record(uow, actor, "session.cancelled", "session", s.id, before={"status": before}, after={"status": s.status})
    return (await _sessions_out(uow, actor.organizer_id, [s]))[0]


async def cancelled_among(uow: UnitOfWork, organizer_id: str, session_ids: Sequence[str]) -> set[str]:
    """Which of these sessions are cancelled (nothing may be sold, paid for or revived for them)."""
    return await repo.cancelled_among(uow.session, organizer_id, list(set(session_ids)))


# ---- ticket types ---------------------------------------------------------------------------------------


async def create_ticket_type(uow: UnitOfWork, actor: Actor, session_id: str, data: TicketTypeIn) -> TicketTypeOut:
    actor.require(Permission.CATALOG_WRITE)
    s = await _session(uow, actor.organizer_id, session_id)
    if s.status == SessionStatus.CANCELLED:
        raise InvalidState(state=s.status)
    errors = validate_ticket_type(data.price_minor, data.quota, data.min_per_order, data.max_per_order)
    if errors:
        raise ValidationFailed(errors)
    pool_id = None
    if data.quota is not None:
        pool_id = await inventory.create_pool(
            uow, actor.organizer_id, kind="ticket_type", capacity=data.quota, label=_pool_label(data.name)
        )
    currency = await organizers.currency_of(uow, actor.organizer_id)
    t = TicketType(
        organizer_id=actor.organizer_id,
        session_id=s.id,
        name=data.name.strip(),
        description=data.description,
        price_minor=data.price_minor,
        currency=currency,
        quota=data.quota,
        pool_id=pool_id,
        min_per_order=data.min_per_order,
        max_per_order=data.max_per_order,
        sort_order=data.sort_order,
        is_active=data.is_active,
        created_at=uow.now(),
    )
    uow.session.add(t)
    await uow.session.flush()
    record(uow, actor, "ticket_type.created", "ticket_type", t.id, after=_snapshot(t, TT_FIELDS))
    return await _ticket_type_out(uow, actor.organizer_id, t.id)


async def update_ticket_type(
    uow: UnitOfWork, actor: Actor, ticket_type_id: str, data: TicketTypePatch
) -> TicketTypeOut:
    """Edits a ticket type. A quota can be added or changed (never below what is held or sold); prices change
    only future orders (order lines keep the price they were sold at)."""
    actor.require(Permission.CATALOG_WRITE)
    t = await repo.ticket_type(uow.session, actor.organizer_id, ticket_type_id)
    if t is None:
        raise NotFound(kind="ticket type")
    before = _snapshot(t, TT_FIELDS)
    changes = data.model_dump(exclude_unset=True)
    if "quota" in changes:
        quota = changes.pop("quota")
        if quota is None and t.pool_id is not None:
            counts = (await inventory.counts(uow, actor.organizer_id, [t.pool_id]))[t.pool_id]
            if counts.held or counts.sold:
                raise ValidationFailed(
                    [
                        {
                            "field": "quota",
                            "code": "in_use",
                            "message": "The quota cannot be removed once tickets are held or sold.",
                        }
                    ]
                )
            t.pool_id = None
        elif quota is not None and t.pool_id is None:
            t.pool_id = await inventory.create_pool(
                uow, actor.organizer_id, kind="ticket_type", capacity=quota, label=_pool_label(t.name)
            )
        elif quota is not None and t.pool_id is not None:
            await inventory.set_capacity(uow, actor.organizer_id, t.pool_id, quota)
        t.quota = quota
    for key, value in changes.items():
        if value is not None:
            setattr(t, key, value)
    errors = validate_ticket_type(t.price_minor, t.quota, t.min_per_order, t.max_per_order)
    if errors:
        raise ValidationFailed(errors)
    record(uow, actor, "ticket_type.updated", "ticket_type", t.id, before=before, after=_snapshot(t, TT_FIELDS))
    await uow.session.flush()
    return await _ticket_type_out(uow, actor.organizer_id, t.id)


async def _ticket_type_out(uow: UnitOfWork, organizer_id: str, ticket_type_id: str) -> TicketTypeOut:
    t = await repo.ticket_type(uow.session, organizer_id, ticket_type_id)
    if t is None:
        raise NotFound(kind="ticket type")
    s = await _session(uow, organizer_id, t.session_id)
    out = await _sessions_out(uow, organizer_id, [s])
    return next(x for x in out[0].ticket_types if x.id == ticket_type_id)


async def count_sales(uow: UnitOfWork, organizer_id: str, sold: Mapping[str, int]) -> None:
    """Adds ``sold[ticket_type_id]`` (negative for refunds) to each ticket type's own sales counter. Orders call
    this in the transaction that pays or refunds the lines, so the counter always agrees with them."""
    for ticket_type_id, n in sorted(sold.items()):  # a fixed order, as every multi-row update here
        if n:
            await repo.add_sold(uow.session, organizer_id, ticket_type_id, n)


# ---- the sale path --------------------------------------------------------------------------------------


async def offers_for(uow: UnitOfWork, organizer_id: str, ticket_type_ids: Sequence[str]) -> dict[str, Offer]:
    """Resolve ticket types for a sale in one query. Unknown ids (or another organizer's) are simply absent."""
    now = uow.now()
    out: dict[str, Offer] = {}
    for r in await repo.offers(uow.session, organizer_id, ticket_type_ids):
        out[r.id] = Offer(
            ticket_type_id=r.id,
            name=r.name,
            price_minor=r.price_minor,
            currency=r.currency,
            min_per_order=r.min_per_order,
            max_per_order=r.max_per_order,
            is_active=r.is_active,
            pool_ids=_pools_of(r.pool_id, r.quota_pool_id),
            session_id=r.session_id,
            session_name=r.session_name,
            event_name=r.event_name,
            sale_state=sale_state(r.status, now, r.starts_at, r.ends_at, r.sales_start, r.sales_end),
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            admission_opens_minutes=r.admission_opens_minutes,
        )
    return out


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


async def session_labels(uow: UnitOfWork, organizer_id: str, session_ids: Sequence[str]) -> dict[str, SessionLabel]:
    """Names, times and venues of sessions, for orders, tickets and gates to display (published or not: a ticket
    sold at the box office for an unlisted event still says where to go)."""
    sessions = await repo.sessions_by_id(uow.session, organizer_id, list(set(session_ids)))
    events = await repo.events_by_id(uow.session, organizer_id, list({s.event_id for s in sessions.values()}))
    venues = await repo.venues_by_id(uow.session, organizer_id, [e.venue_id for e in events.values() if e.venue_id])
    out: dict[str, SessionLabel] = {}
    for s in sessions.values():
        ev = events.get(s.event_id)
        v = venues.get(ev.venue_id or "") if ev else None
        out[s.id] = SessionLabel(
            s.id,
            s.event_id,
            ev.name if ev else "",
            s.name,
            s.starts_at,
            s.ends_at,
            s.admission_opens_minutes,
            s.status,
            ", ".join(x for x in (v.name, v.address) if x) if v else "",
        )
    return out
