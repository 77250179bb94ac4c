"""Ticket type grants: what a ticket of a type admits to (one session, several attractions, N entries, K days)."""

from __future__ import annotations

from fastapi import APIRouter

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.tickets import grants
from piaowu.tickets.schemas import GrantsIn, GrantsOut

router = APIRouter()

E404 = {404: {"description": "`not_found`: no such ticket type for this organizer"}}
E422 = {422: {"description": "`validation_error`: per-field `errors` (e.g. `grants.0.session_id` `not_found`)"}}


@router.get(
    "/ticket-types/{ticket_type_id}/grants",
    response_model=GrantsOut,
    summary="What a ticket of this type admits to",
    responses=E404,
)
async def get_grants(rt: RuntimeDep, actor: ActorDep, ticket_type_id: str) -> GrantsOut:
    """Empty `grants`: a ticket admits to the type's own session, once (as tickets always did)."""
    async with rt.uow(readonly=True) as uow:
        return await grants.get_grants(uow, actor, ticket_type_id)


@router.put(
    "/ticket-types/{ticket_type_id}/grants",
    response_model=GrantsOut,
    summary="Set what a ticket of this type admits to",
    responses={**E404, **E422},
)
async def set_grants(rt: RuntimeDep, actor: ActorDep, ticket_type_id: str, data: GrantsIn) -> GrantsOut:
    """Replaces the whole definition. Tickets already issued keep what they were given; tickets issued from now
    on get one entitlement per grant, in this order."""
    async with rt.uow() as uow:
        out = await grants.set_grants(uow, actor, ticket_type_id, data)
        await uow.commit()
    return out
