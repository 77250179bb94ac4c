"""Seat exchange (换座) for the box office: a sold ticket moves to another seat of its session, the price
difference collected or refunded in the same transaction."""

from __future__ import annotations

from fastapi import APIRouter, Request

from piaowu.api.deps import ActorDep, IdempotencyKey, RuntimeDep
from piaowu.api.idempotency import run_once
from piaowu.api.responses import OrjsonResponse
from piaowu.db.uow import UnitOfWork
from piaowu.seating import exchange
from piaowu.seating.exchange_schemas import SeatExchangeIn, SeatExchangeOut

router = APIRouter()


def answer(done: exchange.ExchangeResult) -> SeatExchangeOut:
    return SeatExchangeOut(
        ticket=done.ticket,
        old_code=done.old_code,
        old_seat=done.old_seat,
        new_seat=done.new_seat,
        currency=done.currency,
        old_price_minor=done.old_price_minor,
        new_price_minor=done.new_price_minor,
        price_difference_minor=done.money.difference_minor,
        payment_id=done.money.payment_id,
        refund_ids=list(done.money.refund_ids),
        refund_queued_minor=done.money.refund_queued_minor,
        change_minor=done.money.change_minor,
    )


@router.post(
    "/tickets/{ticket_id}/exchange-seat",
    response_model=SeatExchangeOut,
    summary="Move a sold ticket to another seat of its session (the price difference collected or refunded)",
    responses={
        403: {
            "description": "`permission_denied`: `payment.cash` to collect an amount due, `payment.refund` to refund"
        },
        404: {"description": "`not_found`: no such ticket of this organizer"},
        409: {
            "description": "`seat_taken` (with `seats`: the seat asked for), `seat_blocked`, "
            "`exchange_price_differs` (the difference was not confirmed: with `difference_minor`), "
            "`exchange_not_allowed` (void, used, refunded, unpaid, not a seat), `idempotency_in_progress`"
        },
        422: {
            "description": "`validation_error`: `unknown_seat` (not a seat of this session), `same_seat`, "
            "`not_for_ticket_type`, `too_little` (tendered); `idempotency_key_reused`"
        },
    },
)
async def exchange_seat(
    request: Request,
    rt: RuntimeDep,
    actor: ActorDep,
    ticket_id: str,
    data: SeatExchangeIn,
    idempotency_key: IdempotencyKey = None,
) -> OrjsonResponse:
    """In one transaction: the new seat is claimed for the order (refused with `seat_taken` if anyone holds it),
    then the old seat is given back, the price difference is settled (a dearer seat: taken as a counter payment;
    a cheaper one: refunded through the order's payments), the order line's seat labels and price change, the
    ticket's old code and QR are void (gates answer `replaced`) and a new code and QR are issued. A difference
    must be confirmed with `price_difference_minor`. Send an `Idempotency-Key` to retry safely: a repeat answers
    the first exchange and moves nothing again."""
    body = await request.body()

    async def use_case(uow: UnitOfWork) -> SeatExchangeOut:
        return answer(await exchange.exchange_seat(uow, actor, ticket_id, data))

    return await run_once(rt, actor, f"seat-exchange:{ticket_id}", idempotency_key, body, use_case, status_code=200)
