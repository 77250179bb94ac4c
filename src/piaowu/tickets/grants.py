"""Ticket type grants: what a ticket of a type admits to (tickets.grant_rules), set and read by the back office.

Guarantees:
- a definition is stored whole or not at all, after ``grant_rules.check_grants`` (targets must be the
  organizer's own sessions and events; another organizer's ids are "not found", as unknown ones);
- tickets already issued keep the entitlements they were given: grants are read only when a ticket is issued;
- every change is one audit event with the definition before and after.

Ticket types belong to the catalog and are named here by id only (``catalog.offers.offers_for``).
"""

from __future__ import annotations

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.catalog import event_service
from piaowu.catalog import offers as catalog_offers
from piaowu.catalog import views as catalog_views
from piaowu.core.actor import Actor
from piaowu.core.errors import NotFound, ValidationFailed
from piaowu.db.uow import UnitOfWork
from piaowu.tickets import repository as repo
from piaowu.tickets.grant_rules import Grant, check_grants
from piaowu.tickets.models import TicketTypeGrant
from piaowu.tickets.schemas import GrantOut, GrantsIn, GrantsOut


def _out(ticket_type_id: str, rows: list[TicketTypeGrant]) -> GrantsOut:
    return GrantsOut(
        ticket_type_id=ticket_type_id,
        grants=[
            GrantOut(
                position=g.position,
                session_id=g.session_id,
                event_id=g.event_id,
                mode=g.mode,
                allowed=g.allowed,
                window_days=g.window_days,
            )
            for g in rows
        ],
    )


async def _require_ticket_type(uow: UnitOfWork, organizer_id: str, ticket_type_id: str) -> None:
    if ticket_type_id not in await catalog_offers.offers_for(uow, organizer_id, [ticket_type_id]):
        raise NotFound(kind="ticket type")


async def get_grants(uow: UnitOfWork, actor: Actor, ticket_type_id: str) -> GrantsOut:
    """The grant definition of one of the actor's organizer's ticket types (empty: its own session, once)."""
    actor.require(Permission.CATALOG_READ)
    await _require_ticket_type(uow, actor.organizer_id, ticket_type_id)
    rows = (await repo.grants_of(uow.session, actor.organizer_id, [ticket_type_id])).get(ticket_type_id, [])
    return _out(ticket_type_id, rows)


async def set_grants(uow: UnitOfWork, actor: Actor, ticket_type_id: str, data: GrantsIn) -> GrantsOut:
    """Replaces the ticket type's grant definition; tickets issued from now on get these entitlements."""
    actor.require(Permission.CATALOG_WRITE)
    org = actor.organizer_id
    await _require_ticket_type(uow, org, ticket_type_id)
    rules = [Grant(g.mode, g.allowed, g.session_id, g.event_id, g.window_days) for g in data.grants]
    sessions = await catalog_views.session_labels(uow, org, [g.session_id for g in rules if g.session_id])
    events: dict[str, str] = {}
    for event_id in sorted({g.event_id for g in rules if g.event_id}):
        try:
            events[event_id] = (await event_service.get_event(uow, actor, event_id)).name
        except NotFound:
            pass  # check_grants reports it on the field that names it
    errors = check_grants(rules, sessions, events)
    if errors:
        raise ValidationFailed(errors)
    before = await get_grants(uow, actor, ticket_type_id)
    await repo.delete_grants(uow.session, org, ticket_type_id)
    await uow.session.flush()  # the old positions go before the new ones take them (unique per type)
    rows = [
        TicketTypeGrant(
            organizer_id=org,
            ticket_type_id=ticket_type_id,
            position=i,
            session_id=g.session_id,
            event_id=g.event_id,
            mode=g.mode,
            allowed=g.allowed,
            window_days=g.window_days,
        )
        for i, g in enumerate(rules)
    ]
    uow.session.add_all(rows)
    await uow.session.flush()
    out = _out(ticket_type_id, rows)
    record(
        uow,
        actor,
        "ticket_type.grants_set",
        "ticket_type",
        ticket_type_id,
        before={"grants": [g.model_dump() for g in before.grants]},
        after={"grants": [g.model_dump() for g in out.grants]},
    )
    return out
