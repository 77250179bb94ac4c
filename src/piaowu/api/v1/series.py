"""Sessions in series and event-level ticket types of the caller's organizer."""

from __future__ import annotations

from fastapi import APIRouter

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.catalog import event_ticket_type_service, series_service
from piaowu.catalog.series_schemas import (
    EventTicketTypeIn,
    EventTicketTypeOut,
    EventTicketTypePatch,
    SeriesIn,
    SeriesOut,
)

router = APIRouter()
E404 = {404: {"description": "`not_found`: no such id for this organizer (other organizers' ids look the same)"}}
E422 = {422: {"description": "`validation_error`: per-field `errors`"}}


@router.get(
    "/events/{event_id}/ticket-types",
    response_model=list[EventTicketTypeOut],
    summary="The event's ticket types (defined once for every generated session)",
    responses=E404,
)
async def list_definitions(rt: RuntimeDep, actor: ActorDep, event_id: str) -> list[EventTicketTypeOut]:
    async with rt.uow(readonly=True) as uow:
        return await event_ticket_type_service.list_definitions(uow, actor, event_id)


@router.post(
    "/events/{event_id}/ticket-types",
    response_model=EventTicketTypeOut,
    status_code=201,
    summary="Define a ticket type for the whole event",
    responses={**E404, **E422},
)
async def create_definition(
    rt: RuntimeDep, actor: ActorDep, event_id: str, data: EventTicketTypeIn
) -> EventTicketTypeOut:
    """Sessions generated from now on (`POST /events/{id}/series`) each get a ticket type linked to it, with
    its price, limits and per-session `quota`."""
    async with rt.uow() as uow:
        out = await event_ticket_type_service.create_definition(uow, actor, event_id, data)
        await uow.commit()
    return out


@router.patch(
    "/event-ticket-types/{event_ticket_type_id}",
    response_model=EventTicketTypeOut,
    summary="Edit an event's ticket type; the edit applies to its sessions' ticket types",
    responses={**E404, **E422},
)
async def update_definition(
    rt: RuntimeDep, actor: ActorDep, event_ticket_type_id: str, data: EventTicketTypePatch
) -> EventTicketTypeOut:
    """Name, description, limits, sort order and active apply to every linked session ticket type; the price
    to those whose price was not set on their session; the quota to sessions generated from now on.
    `applied_to` says how many session ticket types changed."""
    async with rt.uow() as uow:
        out = await event_ticket_type_service.update_definition(uow, actor, event_ticket_type_id, data)
        await uow.commit()
    return out


@router.post(
    "/events/{event_id}/series",
    response_model=SeriesOut,
    summary="Generate sessions from a rule (or preview them with dry_run)",
    responses={
        **E404,
        422: {
            "description": "`validation_error`: per-field `errors`; `too_many_sessions`: the rule makes more than "
            "500 sessions (`count`, `limit`); `empty_series`: the rule matches no day"
        },
    },
)
async def generate_series(rt: RuntimeDep, actor: ActorDep, event_id: str, data: SeriesIn) -> SeriesOut:
    """Every day of `first_date`…`last_date` on `weekdays` (0 = Monday), except `excluded_dates`, at each of
    `start_times` on the wall clock of `timezone` (default: the organizer's), lasting `duration_minutes`.
    Makes only the sessions the event does not have yet (same start moment): running it again adds nothing.
    Each new session gets `capacity`, `status` and one ticket type per active event ticket type. With
    `dry_run: true` the answer lists the sessions and nothing is written."""
    async with rt.uow(readonly=data.dry_run) as uow:
        out = await series_service.generate_series(uow, actor, event_id, data)
        if not data.dry_run:
            await uow.commit()
    return out
