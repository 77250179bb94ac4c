"""Event use cases: create, edit, list, and what the shop shows. An event names its venue by id (a venue record,
``catalog.venue_service``); clients that still send a venue's name find or make one by that name here."""

from __future__ import annotations

from datetime import datetime

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import repository as repo
from piaowu.catalog import views
from piaowu.catalog.models import Event, Venue
from piaowu.catalog.rules import SessionStatus, availability, order_limit, shown_in_shop
from piaowu.catalog.schemas import (
    EventIn,
    EventOut,
    EventPage,
    EventPatch,
    SessionAvailabilityOut,
    SessionOut,
    TicketTypeAvailabilityOut,
)
from piaowu.catalog.text_edits import default_locale, set_texts
from piaowu.core.actor import Actor
from piaowu.core.errors import NotFound, ValidationFailed
from piaowu.db.pagination import paginate
from piaowu.db.uow import UnitOfWork

EVENT_FIELDS = ("name", "name_i18n", "kind", "description", "description_i18n", "venue_id", "is_published")


async def _venue_by_id(uow: UnitOfWork, organizer_id: str, venue_id: str) -> Venue:
    venue = await repo.venue(uow.session, organizer_id, venue_id)
    if venue is None:  # another organizer's venue looks the same as none
        raise ValidationFailed([{"field": "venue_id", "code": "not_found", "message": "No such venue."}])
    return venue


async def _venue_for(uow: UnitOfWork, organizer_id: str, name: str, address: str) -> Venue | None:
    if not name:
        return None
    venue = await repo.venue_by_name(uow.session, organizer_id, name)
    if venue is None:
        default = await default_locale(uow, organizer_id)
        venue = Venue(
            organizer_id=organizer_id,
            name=name,
            name_i18n={default: name},
            address=address,
            address_i18n={default: address} if address else {},
            created_at=uow.now(),
        )
        uow.session.add(venue)
        await uow.session.flush()
    elif address and venue.address != address:
        set_texts(venue, "address", address, None, await default_locale(uow, organizer_id))
    return venue


async def create_event(uow: UnitOfWork, actor: Actor, data: EventIn) -> EventOut:
    actor.require(Permission.CATALOG_WRITE)
    if data.venue_id is not None:
        venue: Venue | None = await _venue_by_id(uow, actor.organizer_id, data.venue_id)
    else:
        venue = await _venue_for(uow, actor.organizer_id, data.venue_name.strip(), data.venue_address.strip())
    default = await default_locale(uow, actor.organizer_id)
    ev = Event(
        organizer_id=actor.organizer_id,
        venue_id=venue.id if venue else None,
        kind=data.kind,
        is_published=data.is_published,
        created_at=uow.now(),
    )
    set_texts(ev, "name", data.name, data.name_i18n, default, required=True)
    set_texts(ev, "description", data.description, data.description_i18n, default)
    uow.session.add(ev)
    await uow.session.flush()
    record(uow, actor, "event.created", "event", ev.id, after=views.snapshot(ev, EVENT_FIELDS))
    return await views.event_out(uow, actor.organizer_id, ev, with_sessions=False)


async def update_event(uow: UnitOfWork, actor: Actor, event_id: str, data: EventPatch) -> EventOut:
    actor.require(Permission.CATALOG_WRITE)
    ev = await views.event_or_404(uow, actor.organizer_id, event_id)
    before = views.snapshot(ev, EVENT_FIELDS)
    changes = data.model_dump(exclude_unset=True)
    default = await default_locale(uow, actor.organizer_id)
    for field in ("name", "description"):
        set_texts(
            ev, field, changes.pop(field, None), changes.pop(f"{field}_i18n", None), default, required=field == "name"
        )
    if "venue_id" in changes:
        venue_id = changes.pop("venue_id")
        changes.pop("venue_name", None)
        changes.pop("venue_address", None)
        ev.venue_id = (await _venue_by_id(uow, actor.organizer_id, venue_id)).id if venue_id else None
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
            setattr(ev, key, value)
    record(uow, actor, "event.updated", "event", ev.id, before=before, after=views.snapshot(ev, EVENT_FIELDS))
    return await views.event_out(uow, actor.organizer_id, ev)


async def get_event(uow: UnitOfWork, actor: Actor, event_id: str) -> EventOut:
    actor.require(Permission.CATALOG_READ)
    return await views.event_out(uow, actor.organizer_id, await views.event_or_404(uow, actor.organizer_id, event_id))


async def list_events(uow: UnitOfWork, actor: Actor, *, cursor: str | None = None, limit: int = 50) -> EventPage:
    actor.require(Permission.CATALOG_READ)
    page = await paginate(uow.session, repo.events_query(actor.organizer_id), Event, cursor, limit)
    return EventPage(items=await views.events_out(uow, actor.organizer_id, page.items), next_cursor=page.next_cursor)


async def current_events(uow: UnitOfWork, actor: Actor, *, since: datetime) -> list[EventOut]:
    """Events with a session that ends after ``since``, each with all its sessions — what the box office and the
    gate choose from. Not a page of every event: an organizer's 201st event (by creation) was missing from the
    counter when it took the first 200 of ``list_events``."""
    actor.require(Permission.CATALOG_READ)
    events = await repo.events_with_sessions_after(uow.session, actor.organizer_id, since)
    return await views.events_out(uow, actor.organizer_id, events)


async def published_events(uow: UnitOfWork, organizer_id: str) -> list[EventOut]:
    """The shop's list: published events with a session not over, with their visible sessions (on sale, paused
    or closed). Every such event: the newest 200 by creation left out a scenic area set up first."""
    events = await repo.events_with_sessions_after(uow.session, organizer_id, uow.now(), published_only=True)
    out = await views.events_out(uow, organizer_id, events)
    for ev in out:
        ev.sessions = listed(ev.sessions)
    return [ev for ev in out if ev.sessions]


def listed(sessions: list[SessionOut]) -> list[SessionOut]:
    """The sessions the shop lists (on sale, paused or closed): not drafts, not cancelled ones."""
    return [s for s in sessions if s.status not in (SessionStatus.DRAFT, SessionStatus.CANCELLED)]


async def public_event(uow: UnitOfWork, organizer_id: str, event_id: str) -> EventOut:
    """A published event with the sessions the shop lists (``published_events``' rule); an unpublished event, or
    one with nothing to show, is not found."""
    ev = await repo.event(uow.session, organizer_id, event_id)
    if ev is None or not ev.is_published:
        raise NotFound(kind="event")
    out = await views.event_out(uow, organizer_id, ev)
    out.sessions = listed(out.sessions)
    if not out.sessions:
        raise NotFound(kind="event")
    return out


async def public_session(uow: UnitOfWork, organizer_id: str, session_id: str) -> tuple[EventOut, SessionOut]:
    """A session as the shop shows it; drafts and unpublished events are not found."""
    s = await repo.session_(uow.session, organizer_id, session_id)
    ev = await repo.event(uow.session, organizer_id, s.event_id) if s is not None else None
    if s is None or ev is None or not shown_in_shop(s.status, ev.is_published):
        raise NotFound(kind="session")
    out = await views.event_out(uow, organizer_id, ev)
    session_out = next(x for x in out.sessions if x.id == session_id)
    session_out.ticket_types = [t for t in session_out.ticket_types if t.is_active]
    return out, session_out


async def check_shown(uow: UnitOfWork, organizer_id: str, session_id: str) -> None:
    """``not_found`` unless the shop shows the session (``public_session``'s rule) — one small read, for answers
    about a session that print nothing of it (its seats' availability)."""
    shown = await repo.session_shown(uow.session, organizer_id, session_id)
    if shown is None or not shown_in_shop(*shown):
        raise NotFound(kind="session")


async def public_availability(uow: UnitOfWork, organizer_id: str, session_id: str) -> SessionAvailabilityOut:
    """What is left of a shop session now, by the same rules as its page (``catalog.rules.availability``): the
    session's state and, per active ticket type, what it can sell and the most one order can take."""
    _, s = await public_session(uow, organizer_id, session_id)
    types = s.ticket_types  # active ones only (public_session)
    av = availability(s.status, s.sale_state, s.capacity, s.available, s.held, [t.available for t in types])
    return SessionAvailabilityOut(
        session_id=s.id,
        state=av.state,
        buyable=av.buyable,
        left=av.left,
        ticket_types=[
            TicketTypeAvailabilityOut(
                id=t.id,
                available=max(0, t.available),
                order_limit=order_limit(t.max_per_order, t.available, s.available) if av.buyable else 0,
            )
            for t in types
        ],
        as_of=uow.now(),
    )
