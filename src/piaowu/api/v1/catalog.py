"""Events, sessions and ticket types of the caller's organizer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.bulkjobs.schemas import BulkJobOut
from piaowu.catalog import event_service, session_service, ticket_type_service
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
from piaowu.orders import session_cancel
from piaowu.orders.schemas import SessionCancelIn

router = APIRouter()
E404 = {404: {"description": "`not_found`: no such id for this organizer (other organizers' ids look the same)"}}
E422 = {422: {"description": "`validation_error`: per-field `errors`"}}


@router.get("/events", response_model=EventPage, summary="List events, newest first")
async def list_events(
    rt: RuntimeDep, actor: ActorDep, cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> EventPage:
    async with rt.uow(readonly=True) as uow:
        return await event_service.list_events(uow, actor, cursor=cursor, limit=limit)


@router.post("/events", response_model=EventOut, status_code=201, summary="Create an event", responses=E422)
async def create_event(rt: RuntimeDep, actor: ActorDep, data: EventIn) -> EventOut:
    async with rt.uow() as uow:
        out = await event_service.create_event(uow, actor, data)
        await uow.commit()
    return out


@router.get("/events/{event_id}", response_model=EventOut, summary="An event with its sessions", responses=E404)
async def get_event(rt: RuntimeDep, actor: ActorDep, event_id: str) -> EventOut:
    async with rt.uow(readonly=True) as uow:
        return await event_service.get_event(uow, actor, event_id)


@router.patch("/events/{event_id}", response_model=EventOut, summary="Edit an event", responses={**E404, **E422})
async def update_event(rt: RuntimeDep, actor: ActorDep, event_id: str, data: EventPatch) -> EventOut:
    async with rt.uow() as uow:
        out = await event_service.update_event(uow, actor, event_id, data)
        await uow.commit()
    return out


@router.post(
    "/events/{event_id}/sessions",
    response_model=SessionOut,
    status_code=201,
    summary="Add a session",
    responses={**E404, **E422},
)
async def create_session(rt: RuntimeDep, actor: ActorDep, event_id: str, data: SessionIn) -> SessionOut:
    async with rt.uow() as uow:
        out = await session_service.create_session(uow, actor, event_id, data)
        await uow.commit()
    return out


@router.get("/sessions/{session_id}", response_model=SessionOut, summary="A session with availability", responses=E404)
async def get_session(rt: RuntimeDep, actor: ActorDep, session_id: str) -> SessionOut:
    async with rt.uow(readonly=True) as uow:
        return await session_service.get_session(uow, actor, session_id)


@router.patch(
    "/sessions/{session_id}",
    response_model=SessionOut,
    summary="Edit a session (times, capacity, status)",
    responses={
        **E404,
        422: {"description": "`validation_error`: per-field `errors` (`use_cancel`: cancel with POST …/cancel)"},
        409: {"description": "`invalid_state`: status change not allowed"},
    },
)
async def update_session(rt: RuntimeDep, actor: ActorDep, session_id: str, data: SessionPatch) -> SessionOut:
    async with rt.uow() as uow:
        out = await session_service.update_session(uow, actor, session_id, data)
        await uow.commit()
    return out


@router.post(
    "/sessions/{session_id}/cancel",
    response_model=BulkJobOut,
    status_code=202,
    summary="Cancel a session: refuse new sales and payments, cancel and refund every order (a job)",
    responses={
        **E404,
        409: {
            "description": "`invalid_state`: already cancelled; `session_ended`: it has ended (refund its orders one"
            " by one)"
        },
    },
)
async def cancel_session(rt: RuntimeDep, actor: ActorDep, session_id: str, data: SessionCancelIn) -> BulkJobOut:
    """From this call on the session sells nothing, its orders cannot be paid (`session_cancelled`) and gates
    refuse its tickets (`session_cancelled`). A background job then cancels its pending orders and refunds its
    paid ones in full (through the provider that took the money), one order at a time, and queues one
    `order.session_cancelled` message per order for the buyer. Follow it with
    `GET /sessions/{id}/cancellation`. Needs `catalog.write` and `payment.refund`."""
    async with rt.uow() as uow:
        out = await session_cancel.cancel_session(uow, actor, session_id, data.reason)
        await uow.commit()
    worker = rt.extras.get("worker")
    if worker is not None:
        worker.wake()  # start the job now rather than at the next tick
    return out


@router.get(
    "/sessions/{session_id}/cancellation",
    response_model=BulkJobOut,
    summary="Progress and report of a session's cancellation",
    responses={**E404, 409: {"description": "`invalid_state`: the session was not cancelled"}},
)
async def get_cancellation(rt: RuntimeDep, actor: ActorDep, session_id: str) -> BulkJobOut:
    """`status` is `running` until every order is handled, then `done`; `failures` lists orders whose handling
    failed and `report.refunds_failed` provider refunds that failed — `POST …/cancellation/retry` tries them
    again."""
    async with rt.uow(readonly=True) as uow:
        return await session_cancel.require_cancellation(uow, actor, session_id)


@router.post(
    "/sessions/{session_id}/cancellation/retry",
    response_model=BulkJobOut,
    summary="Retry the failures of a session's cancellation",
    responses={**E404, 409: {"description": "`invalid_state`: the session was not cancelled"}},
)
async def retry_cancellation(rt: RuntimeDep, actor: ActorDep, session_id: str) -> BulkJobOut:
    async with rt.uow() as uow:
        out = await session_cancel.retry(uow, actor, session_id)
        await uow.commit()
    return out


@router.post(
    "/sessions/{session_id}/ticket-types",
    response_model=TicketTypeOut,
    status_code=201,
    summary="Add a ticket type (price zone) to a session",
    responses={**E404, **E422},
)
async def create_ticket_type(rt: RuntimeDep, actor: ActorDep, session_id: str, data: TicketTypeIn) -> TicketTypeOut:
    async with rt.uow() as uow:
        out = await ticket_type_service.create_ticket_type(uow, actor, session_id, data)
        await uow.commit()
    return out


@router.patch(
    "/ticket-types/{ticket_type_id}",
    response_model=TicketTypeOut,
    summary="Edit a ticket type",
    responses={**E404, **E422},
)
async def update_ticket_type(
    rt: RuntimeDep, actor: ActorDep, ticket_type_id: str, data: TicketTypePatch
) -> TicketTypeOut:
    async with rt.uow() as uow:
        out = await ticket_type_service.update_ticket_type(uow, actor, ticket_type_id, data)
        await uow.commit()
    return out
