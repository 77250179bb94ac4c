"""Seat exchange (换座) for the box office: a sold ticket moves to another seat of its session."""

from __future__ import annotations

from fastapi import APIRouter

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.seating import exchange
from piaowu.seating.exchange_schemas import SeatExchangeIn, SeatExchangeOut

router = APIRouter()


@router.post(
    "/tickets/{ticket_id}/exchange-seat",
    response_model=SeatExchangeOut,
    summary="Move a sold ticket to another seat of its session (same price)",
    responses={
        404: {"description": "`not_found`: no such ticket of this organizer"},
        409: {
            "description": "`seat_taken` (with `seats`: the seat asked for), `seat_blocked`, "
            "`exchange_price_differs`, `exchange_not_allowed` (void, used, refunded, unpaid, not a seat)"
        },
        422: {"description": "`validation_error`: `unknown_seat` (not a seat of this session), `same_seat`"},
    },
)
async def exchange_seat(rt: RuntimeDep, actor: ActorDep, ticket_id: str, data: SeatExchangeIn) -> SeatExchangeOut:
    """In one transaction: the new seat is claimed for the order (refused with `seat_taken` if anyone holds it),
    then the old seat is given back, the order line's seat labels change, the ticket's old code and QR are void
    and a new code and QR are issued. Only to a seat sold at the same price for the ticket's type."""
    async with rt.uow() as uow:
        done = await exchange.exchange_seat(uow, actor, ticket_id, data.seat_id)
        await uow.commit()
    return SeatExchangeOut(ticket=done.ticket, old_code=done.old_code, old_seat=done.old_seat, new_seat=done.new_seat)
