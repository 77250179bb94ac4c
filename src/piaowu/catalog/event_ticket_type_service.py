"""Event-level ticket types (票种 defined once per event): what each session generated from a series sells.

A definition is not sold itself. Each generated session gets its own ``TicketType`` linked to it
(``definition_id``), which is what offers and orders use, exactly as for a type made on a session by hand.

Editing a definition applies to the session types linked to it, in the same transaction:
- name, description, limits per order, sort order and active: to every linked type;
- price: to every linked type whose price was not set on its session (``price_overridden``); a price set on a
  session stays until it is set there again. Orders keep the price they were sold at, as for any price edit;
- quota: only to sessions generated from now on. An existing session's quota is its own pool with its own
  held and sold counts, edited on that session.
"""

from __future__ import annotations

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import repository as repo
from piaowu.catalog import series_repository as srepo
from piaowu.catalog import views
from piaowu.catalog.models import EventTicketType
from piaowu.catalog.rules import SessionStatus, validate_ticket_type
from piaowu.catalog.schemas import TicketTypeIn
from piaowu.catalog.series_schemas import EventTicketTypeIn, EventTicketTypeOut, EventTicketTypePatch
from piaowu.catalog.text_edits import default_locale, set_texts
from piaowu.catalog.texts import pick
from piaowu.catalog.ticket_type_service import TT_FIELDS, add_ticket_type
from piaowu.core.actor import Actor
from piaowu.core.errors import NotFound, ValidationFailed
from piaowu.core.reading_locale import current
from piaowu.db.uow import UnitOfWork
from piaowu.organizers import service as organizers

# What a definition's edit carries to its linked session types (price separately: not where overridden).
PROPAGATED = (
    "name",
    "name_i18n",
    "description",
    "description_i18n",
    "min_per_order",
    "max_per_order",
    "sort_order",
    "is_active",
)
TEXTS = ("name", "description")


def _out(d: EventTicketType, sessions: int, applied_to: int | None = None) -> EventTicketTypeOut:
    lang = current()
    return EventTicketTypeOut(
        id=d.id,
        event_id=d.event_id,
        name=pick(d.name_i18n, lang, d.name),
        name_i18n=dict(d.name_i18n or {}),
        description=pick(d.description_i18n, lang, d.description),
        description_i18n=dict(d.description_i18n or {}),
        price_minor=d.price_minor,
        currency=d.currency,
        quota=d.quota,
        min_per_order=d.min_per_order,
        max_per_order=d.max_per_order,
        sort_order=d.sort_order,
        is_active=d.is_active,
        sessions=sessions,
        applied_to=applied_to,
    )


async def create_definition(
    uow: UnitOfWork, actor: Actor, event_id: str, data: EventTicketTypeIn
) -> EventTicketTypeOut:
    """Defines a ticket type for the event; sessions generated from now on each get one linked to it, and with
    ``add_to_sessions`` so do the event's current sessions that are neither cancelled nor over (``applied_to``
    says how many), all in the caller's transaction."""
    actor.require(Permission.CATALOG_WRITE)
    ev = await views.event_or_404(uow, actor.organizer_id, event_id)
    errors = validate_ticket_type(data.price_minor, data.quota, data.min_per_order, data.max_per_order)
    if errors:
        raise ValidationFailed(errors)
    d = EventTicketType(
        organizer_id=actor.organizer_id,
        event_id=ev.id,
        name="",
        name_i18n={},
        description="",
        description_i18n={},
        price_minor=data.price_minor,
        currency=await organizers.currency_of(uow, actor.organizer_id),
        quota=data.quota,
        min_per_order=data.min_per_order,
        max_per_order=data.max_per_order,
        sort_order=data.sort_order,
        is_active=data.is_active,
        created_at=uow.now(),
    )
    default = await default_locale(uow, actor.organizer_id)
    set_texts(d, "name", data.name, data.name_i18n, default, required=True)
    set_texts(d, "description", data.description, data.description_i18n, default)
    uow.session.add(d)
    await uow.session.flush()
    record(uow, actor, "event_ticket_type.created", "event_ticket_type", d.id, after=views.snapshot(d, TT_FIELDS))
    if not data.add_to_sessions:
        return _out(d, 0)
    now = uow.now()
    current = [
        s
        for s in await repo.sessions_of(uow.session, actor.organizer_id, [ev.id])
        if s.status != SessionStatus.CANCELLED and s.ends_at > now
    ]
    for s in current:
        await add_ticket_type(uow, actor, s, as_ticket_type(d), definition_id=d.id, currency=d.currency)
    return _out(d, len(current), len(current))


def as_ticket_type(d: EventTicketType) -> TicketTypeIn:
    """What a session's ticket type made from definition ``d`` starts with."""
    return TicketTypeIn(
        name=d.name,
        name_i18n=d.name_i18n or None,
        description=d.description,
        description_i18n=d.description_i18n or None,
        price_minor=d.price_minor,
        quota=d.quota,
        min_per_order=d.min_per_order,
        max_per_order=d.max_per_order,
        sort_order=d.sort_order,
        is_active=d.is_active,
    )


async def list_definitions(uow: UnitOfWork, actor: Actor, event_id: str) -> list[EventTicketTypeOut]:
    actor.require(Permission.CATALOG_READ)
    ev = await views.event_or_404(uow, actor.organizer_id, event_id)
    defs = await srepo.definitions_of(uow.session, actor.organizer_id, ev.id)
    counts = await srepo.linked_counts(uow.session, actor.organizer_id, [d.id for d in defs])
    return [_out(d, counts.get(d.id, 0)) for d in defs]


async def get_definition(uow: UnitOfWork, actor: Actor, definition_id: str) -> EventTicketTypeOut:
    actor.require(Permission.CATALOG_READ)
    d = await _definition_or_404(uow, actor, definition_id)
    counts = await srepo.linked_counts(uow.session, actor.organizer_id, [d.id])
    return _out(d, counts.get(d.id, 0))


async def _definition_or_404(uow: UnitOfWork, actor: Actor, definition_id: str) -> EventTicketType:
    d = await srepo.definition(uow.session, actor.organizer_id, definition_id)
    if d is None:
        raise NotFound(kind="ticket type")
    return d


async def update_definition(
    uow: UnitOfWork, actor: Actor, definition_id: str, data: EventTicketTypePatch
) -> EventTicketTypeOut:
    """Edits a definition and applies the edit to its linked session ticket types (see the module: texts and
    limits to all, the price where the session did not set its own, the quota to future sessions only)."""
    actor.require(Permission.CATALOG_WRITE)
    d = await _definition_or_404(uow, actor, definition_id)
    before = views.snapshot(d, TT_FIELDS)
    changes = data.model_dump(exclude_unset=True)
    default = await default_locale(uow, actor.organizer_id)
    edited: set[str] = set()
    for field in TEXTS:
        plain, texts = changes.pop(field, None), changes.pop(f"{field}_i18n", None)
        if plain is not None or texts is not None:
            set_texts(d, field, plain, texts, default, required=field == "name")
            edited |= {field, f"{field}_i18n"}
    for key, value in changes.items():
        if value is not None or key == "quota":
            setattr(d, key, value)
            edited.add(key)
    errors = validate_ticket_type(d.price_minor, d.quota, d.min_per_order, d.max_per_order)
    if errors:
        raise ValidationFailed(errors)
    linked = await srepo.linked_types(uow.session, actor.organizer_id, d.id)
    applied = 0
    for t in linked:
        changed = False
        for key in PROPAGATED:
            value = getattr(d, key)
            if key in edited and getattr(t, key) != value:
                setattr(t, key, dict(value) if isinstance(value, dict) else value)
                changed = True
        if "price_minor" in changes and not t.price_overridden and t.price_minor != d.price_minor:
            t.price_minor = d.price_minor
            changed = True
        # A session's own maximum may have been set below the definition's new minimum: that type keeps a
        # consistent pair by taking both limits of the definition.
        if t.max_per_order < t.min_per_order:
            t.min_per_order, t.max_per_order = d.min_per_order, d.max_per_order
        applied += changed
    after = {**views.snapshot(d, TT_FIELDS), "applied_to": applied}
    record(uow, actor, "event_ticket_type.updated", "event_ticket_type", d.id, before=before, after=after)
    await uow.session.flush()
    return _out(d, len(linked), applied)
