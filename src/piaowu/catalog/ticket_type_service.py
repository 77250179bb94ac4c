"""Ticket type use cases (票种/票档): price, limits and an optional quota pool of their own."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import repository as repo
from piaowu.catalog import views
from piaowu.catalog.models import Session, TicketType
from piaowu.catalog.rules import SessionStatus, pool_label, validate_ticket_type
from piaowu.catalog.schemas import TicketTypeIn, TicketTypeOut, TicketTypePatch
from piaowu.catalog.text_edits import default_locale, set_texts
from piaowu.core.actor import Actor
from piaowu.core.errors import InvalidState, NotFound, ValidationFailed
from piaowu.db.hotpath import GuardedWrite
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.organizers import service as organizers

TT_FIELDS = (
    "name",
    "name_i18n",
    "description",
    "description_i18n",
    "price_minor",
    "quota",
    "min_per_order",
    "max_per_order",
    "sort_order",
    "is_active",
)


async def create_ticket_type(uow: UnitOfWork, actor: Actor, session_id: str, data: TicketTypeIn) -> TicketTypeOut:
    actor.require(Permission.CATALOG_WRITE)
    s = await views.session_or_404(uow, actor.organizer_id, session_id)
    t = await add_ticket_type(uow, actor, s, data)
    return await views.ticket_type_out(uow, actor.organizer_id, t.id)


async def add_ticket_type(
    uow: UnitOfWork,
    actor: Actor,
    s: Session,
    data: TicketTypeIn,
    *,
    definition_id: str | None = None,
    currency: str | None = None,
) -> TicketType:
    """The row (and quota pool) of a new ticket type of session ``s``, checked and audited; ``definition_id``
    links it to the event-level type it was made from (sessions in series)."""
    if s.status == SessionStatus.CANCELLED:
        raise InvalidState(state=s.status)
    errors = validate_ticket_type(data.price_minor, data.quota, data.min_per_order, data.max_per_order)
    if errors:
        raise ValidationFailed(errors)
    default = await default_locale(uow, actor.organizer_id)
    # The texts first: a missing name is refused before any pool is made.
    texts = SimpleNamespace(name="", name_i18n={}, description="", description_i18n={})
    set_texts(texts, "name", data.name, data.name_i18n, default, required=True)
    set_texts(texts, "description", data.description, data.description_i18n, default)
    pool_id = None
    if data.quota is not None:
        pool_id = await inventory.create_pool(
            uow, actor.organizer_id, kind="ticket_type", capacity=data.quota, label=pool_label(texts.name)
        )
    currency = currency or await organizers.currency_of(uow, actor.organizer_id)
    t = TicketType(
        organizer_id=actor.organizer_id,
        session_id=s.id,
        name=texts.name,
        name_i18n=texts.name_i18n,
        description=texts.description,
        description_i18n=texts.description_i18n,
        price_minor=data.price_minor,
        currency=currency,
        quota=data.quota,
        pool_id=pool_id,
        min_per_order=data.min_per_order,
        max_per_order=data.max_per_order,
        sort_order=data.sort_order,
        is_active=data.is_active,
        definition_id=definition_id,
        created_at=uow.now(),
    )
    uow.session.add(t)
    await uow.session.flush()
    record(uow, actor, "ticket_type.created", "ticket_type", t.id, after=views.snapshot(t, TT_FIELDS))
    return t


async def update_ticket_type(
    uow: UnitOfWork, actor: Actor, ticket_type_id: str, data: TicketTypePatch
) -> TicketTypeOut:
    """Edits a ticket type. A quota can be added or changed (never below what is held or sold); prices change
    only future orders (order lines keep the price they were sold at)."""
    actor.require(Permission.CATALOG_WRITE)
    t = await repo.ticket_type(uow.session, actor.organizer_id, ticket_type_id)
    if t is None:
        raise NotFound(kind="ticket type")
    before = views.snapshot(t, TT_FIELDS)
    changes = data.model_dump(exclude_unset=True)
    default = await default_locale(uow, actor.organizer_id)
    for field in ("name", "description"):
        set_texts(
            t, field, changes.pop(field, None), changes.pop(f"{field}_i18n", None), default, required=field == "name"
        )
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
                uow, actor.organizer_id, kind="ticket_type", capacity=quota, label=pool_label(t.name)
            )
        elif quota is not None and t.pool_id is not None:
            await inventory.set_capacity(uow, actor.organizer_id, t.pool_id, quota)
        t.quota = quota
    if t.definition_id and changes.get("price_minor") not in (None, t.price_minor):
        # Its own price now: the definition's next price leaves it alone. Only a different price counts: the
        # page's form sends the price with every edit.
        t.price_overridden = True
    for key, value in changes.items():
        if value is not None:
            setattr(t, key, value)
    errors = validate_ticket_type(t.price_minor, t.quota, t.min_per_order, t.max_per_order)
    if errors:
        raise ValidationFailed(errors)
    record(uow, actor, "ticket_type.updated", "ticket_type", t.id, before=before, after=views.snapshot(t, TT_FIELDS))
    await uow.session.flush()
    return await views.ticket_type_out(uow, actor.organizer_id, t.id)


def sales_writes(sold: Mapping[str, int]) -> list[GuardedWrite]:
    """``count_sales`` as writes for a caller that sends them inside a statement of its own (the payment
    notification's tickets insert, ``tickets.service.issue``): the same counters, in the same fixed order."""
    return [GuardedWrite(repo.SOLD, ticket_type_id, n) for ticket_type_id, n in sorted(sold.items()) if n]


async def count_sales(uow: UnitOfWork, organizer_id: str, sold: Mapping[str, int]) -> None:
    """Adds ``sold[ticket_type_id]`` (negative for refunds) to each ticket type's own sales counter. Orders call
    this in the transaction that pays or refunds the lines, so the counter always agrees with them."""
    for ticket_type_id, n in sorted(sold.items()):  # a fixed order, as every multi-row update here
        if n:
            await repo.add_sold(uow.session, organizer_id, ticket_type_id, n)
