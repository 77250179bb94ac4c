"""Venue use cases: where events take place, as records of their own (names and addresses in several languages,
a time zone, entrances). Events point at them by id (``EventIn.venue_id``)."""

from __future__ import annotations

from collections.abc import Sequence

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import repository as repo
from piaowu.catalog import views
from piaowu.catalog.models import Venue
from piaowu.catalog.text_edits import default_locale, set_texts
from piaowu.catalog.texts import pick
from piaowu.catalog.venue_schemas import VenueIn, VenueOut, VenuePage, VenuePatch
from piaowu.core.actor import Actor
from piaowu.core.errors import NotFound
from piaowu.core.reading_locale import current
from piaowu.db.pagination import paginate
from piaowu.db.uow import UnitOfWork

VENUE_FIELDS = ("name", "name_i18n", "address", "address_i18n", "timezone", "entrances")


def venue_out(v: Venue) -> VenueOut:
    lang = current()
    return VenueOut(
        id=v.id,
        name=pick(v.name_i18n, lang, v.name),
        name_i18n=v.name_i18n or {},
        address=pick(v.address_i18n, lang, v.address),
        address_i18n=v.address_i18n or {},
        timezone=v.timezone or "",
        entrances=list(v.entrances or []),
        created_at=v.created_at,
    )


async def _venue_or_404(uow: UnitOfWork, organizer_id: str, venue_id: str) -> Venue:
    v = await repo.venue(uow.session, organizer_id, venue_id)
    if v is None:
        raise NotFound(kind="venue")
    return v


async def create_venue(uow: UnitOfWork, actor: Actor, data: VenueIn) -> VenueOut:
    """Makes a venue of the actor's organizer; a name in some language is required. Audited."""
    actor.require(Permission.CATALOG_WRITE)
    default = await default_locale(uow, actor.organizer_id)
    v = Venue(
        organizer_id=actor.organizer_id,
        timezone=data.timezone,
        entrances=list(data.entrances),
        created_at=uow.now(),
    )
    set_texts(v, "name", data.name, data.name_i18n, default, required=True)
    v.address, v.address_i18n = "", {}
    set_texts(v, "address", data.address, data.address_i18n, default)
    uow.session.add(v)
    await uow.session.flush()
    record(uow, actor, "venue.created", "venue", v.id, after=views.snapshot(v, VENUE_FIELDS))
    return venue_out(v)


async def update_venue(uow: UnitOfWork, actor: Actor, venue_id: str, data: VenuePatch) -> VenueOut:
    """Edits a venue; fields left out stay, ``entrances`` replaces the list. Every event held there shows the
    change at once (events point at the venue). Audited with the values before and after."""
    actor.require(Permission.CATALOG_WRITE)
    v = await _venue_or_404(uow, actor.organizer_id, venue_id)
    before = views.snapshot(v, VENUE_FIELDS)
    changes = data.model_dump(exclude_unset=True)
    default = await default_locale(uow, actor.organizer_id)
    set_texts(v, "name", changes.get("name"), changes.get("name_i18n"), default, required=True)
    set_texts(v, "address", changes.get("address"), changes.get("address_i18n"), default)
    if changes.get("timezone") is not None:
        v.timezone = changes["timezone"]
    if changes.get("entrances") is not None:
        v.entrances = list(changes["entrances"])
    after = views.snapshot(v, VENUE_FIELDS)
    if after != before:
        record(uow, actor, "venue.updated", "venue", v.id, before=before, after=after)
    await uow.session.flush()
    return venue_out(v)


async def get_venue(uow: UnitOfWork, actor: Actor, venue_id: str) -> VenueOut:
    actor.require(Permission.CATALOG_READ)
    return venue_out(await _venue_or_404(uow, actor.organizer_id, venue_id))


async def list_venues(uow: UnitOfWork, actor: Actor, *, cursor: str | None = None, limit: int = 50) -> VenuePage:
    """The actor's organizer's venues, newest first (another organizer's are never listed)."""
    actor.require(Permission.CATALOG_READ)
    page = await paginate(uow.session, repo.venues_query(actor.organizer_id), Venue, cursor, limit)
    return VenuePage(items=[venue_out(v) for v in page.items], next_cursor=page.next_cursor)


async def all_venues(uow: UnitOfWork, actor: Actor) -> Sequence[VenueOut]:
    """Every venue of the actor's organizer (for choosing one on the event form), by name."""
    actor.require(Permission.CATALOG_READ)
    q = repo.venues_query(actor.organizer_id).order_by(Venue.name).limit(500)
    return [venue_out(v) for v in (await uow.session.execute(q)).scalars()]
