"""Orders for staff and integrations (box office, distributors). Buyers use /v1/shop."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from piaowu.api.deps import ActorDep, IdempotencyKey, RuntimeDep, current_actor, token_rechecked
from piaowu.api.idempotency import run_once, run_once_after
from piaowu.api.lean import LeanCall, LeanRoute
from piaowu.api.responses import OrjsonResponse
from piaowu.db.uow import UnitOfWork
from piaowu.orders import payment_flow, refunds, waiting
from piaowu.orders import service as orders
from piaowu.orders.schemas import (
    CashPaymentIn,
    CounterSaleIn,
    OnlinePaymentIn,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderStatusOut,
    PaymentStartOut,
    RefundIn,
)
from piaowu.orders.states import OrderStatus
from piaowu.payments import service as payments
from piaowu.payments.schemas import RefundOut

router = APIRouter()

CREATE_ERRORS = {
    409: {
        "description": "`sold_out` (with `pool_id`: the pool that was short) or `not_on_sale`; seats: `seat_taken` /"
        " `seat_blocked` (with `seats`), `no_adjacent_block`, `not_enough_seats`, `no_wheelchair_space`,"
        " `restricted_view_only`"
    },
    422: {
        "description": "`validation_error` (unknown ticket type, bad phone…), `invalid_quantity`, "
        "`seat_required` (a counted item of a seated session's ticket type), `idempotency_key_reused`"
    },
}


@router.post(
    "/orders", response_model=OrderOut, status_code=201, summary="Create an order (units held)", responses=CREATE_ERRORS
)
@token_rechecked
async def create_order(
    request: Request, rt: RuntimeDep, actor: ActorDep, data: OrderIn, idempotency_key: IdempotencyKey = None
) -> OrjsonResponse:
    """Holds the units and returns a `pending` order with `expires_at`. Pay it with
    `POST /orders/{id}/pay` (counter) or `POST /orders/{id}/payments` (online), or it expires and the units
    return. Send an `Idempotency-Key` to retry safely."""
    body = await request.body()
    return await run_once(
        rt,
        actor,
        "orders.create",
        idempotency_key,
        body,
        lambda uow: orders.create_order(uow, actor, data),
        single_statement=True,
    )


async def _create_order_lean(call: LeanCall) -> Response:
    # ``enforce_route`` has run (and identified the caller); then what ``create_order``'s parameters resolve to.
    actor = await current_actor(call.request, call.rt, call.request.headers.get("authorization"))
    return await create_order(call.request, call.rt, actor, call.data, call.headers["idempotency-key"])


@router.get("/orders", response_model=OrderPage, summary="List orders, newest first")
async def list_orders(
    rt: RuntimeDep,
    actor: ActorDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    status: Annotated[OrderStatus | None, Query(description="only orders in this state")] = None,
    q: Annotated[str | None, Query(max_length=100, description="code, phone, name")] = None,
    session_id: Annotated[
        str | None, Query(max_length=26, description="only orders with a ticket for this session")
    ] = None,
) -> OrderPage:
    async with rt.uow(readonly=True) as uow:
        return await orders.list_orders(
            uow, actor, cursor=cursor, limit=limit, status=status, q=q, session_id=session_id
        )


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    summary="An order with tickets and payments",
    responses={404: {"description": "`not_found`"}},
)
async def get_order(rt: RuntimeDep, actor: ActorDep, order_id: str) -> OrjsonResponse:
    # The answer dumped once with orjson (the buyer's page reads it once paid: part of every paid order's
    # cost); ``response_model`` documents it.
    async with rt.uow(readonly=True) as uow:
        out = await orders.get_order(uow, actor, order_id)
    return OrjsonResponse(out.model_dump(mode="json"))


@router.get(
    "/orders/{order_id}/status",
    response_model=OrderStatusOut,
    summary="An order's status only (for polling until a payment lands)",
    responses={404: {"description": "`not_found`"}},
)
@token_rechecked
async def order_status(
    rt: RuntimeDep,
    actor: ActorDep,
    order_id: str,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=waiting.MAX_WAIT_S,
            description="seconds to hold the request while the order is `pending`: answered as soon as it changes"
            " (paid, expired, cancelled), else with the unchanged status when the time runs out — ask again",
        ),
    ] = 0,
    with_order: Annotated[
        bool,
        Query(description="a final answer (not `pending`) carries the whole order in `order`, tickets included"),
    ] = False,
) -> OrjsonResponse:
    """Ask this, not the whole order, while waiting for an online payment: `paid` means the tickets are
    issued. With `wait`, one held request replaces polling; with `with_order=true` the final answer carries
    the order, so the page needs no second request (see docs/api.md)."""
    out = await waiting.order_status(rt.uow, rt.wakeups, actor, order_id, wait, with_order=with_order)
    return OrjsonResponse(out.model_dump(mode="json"))


class StatusQuery(BaseModel):
    """``order_status``'s query parameters with the same types and bounds, for the lean lane (anything this
    refuses goes to the full stack, which answers its 422)."""

    wait: float = Field(0, ge=0, le=waiting.MAX_WAIT_S)
    with_order: bool = False


async def _order_status_lean(call: LeanCall) -> Response:
    # Held on the lane as on the full stack: ``waiting.hold`` keeps no connection while it waits.
    actor = await current_actor(call.request, call.rt, call.request.headers.get("authorization"))
    q: StatusQuery = call.query
    return await order_status(call.rt, actor, call.path_params["order_id"], q.wait, q.with_order)


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderOut,
    summary="Cancel a pending order",
    responses={409: {"description": "`invalid_state`: not pending"}},
)
async def cancel_order(rt: RuntimeDep, actor: ActorDep, order_id: str) -> OrderOut:
    async with rt.uow() as uow:
        out = await orders.cancel_order(uow, actor, order_id)
        await uow.commit()
    return out


@router.post(
    "/orders/{order_id}/pay",
    response_model=OrderOut,
    summary="Record a counter payment (cash/card)",
    responses={409: {"description": "`invalid_state`: not pending; `session_cancelled`"}},
)
async def pay_at_counter(
    request: Request,
    rt: RuntimeDep,
    actor: ActorDep,
    order_id: str,
    data: CashPaymentIn,
    idempotency_key: IdempotencyKey = None,
) -> OrjsonResponse:
    body = await request.body()
    return await run_once(
        rt,
        actor,
        f"orders.pay:{order_id}",
        idempotency_key,
        body,
        lambda uow: payment_flow.pay_at_counter(uow, actor, order_id, data),
        status_code=200,
    )


@router.post(
    "/box-office/sales",
    response_model=OrderOut,
    status_code=201,
    summary="Sell at the counter: create an order and record its cash/card payment in one call",
    responses={
        409: {"description": "`sold_out` (with `pool_id`), `not_on_sale`, `session_cancelled`"},
        422: {"description": "`validation_error` (too little tendered, bad phone…), `idempotency_key_reused`"},
    },
)
async def sell_at_counter(
    request: Request, rt: RuntimeDep, actor: ActorDep, data: CounterSaleIn, idempotency_key: IdempotencyKey = None
) -> OrjsonResponse:
    """Returns the `paid` order with its tickets; on any refusal nothing is held or written. Needs
    `order.create` and `payment.cash`. Send an `Idempotency-Key` to retry safely: a repeat answers the first
    sale instead of selling again."""
    body = await request.body()
    return await run_once(
        rt,
        actor,
        "box-office.sales",
        idempotency_key,
        body,
        lambda uow: payment_flow.sell_at_counter(uow, actor, data),
    )


@router.post(
    "/orders/{order_id}/payments",
    response_model=PaymentStartOut,
    status_code=201,
    summary="Start an online payment",
    responses={410: {"description": "`hold_expired`"}, 409: {"description": "`session_cancelled`"}},
)
@token_rechecked
async def start_payment(
    request: Request,
    rt: RuntimeDep,
    actor: ActorDep,
    order_id: str,
    data: OnlinePaymentIn,
    idempotency_key: IdempotencyKey = None,
) -> OrjsonResponse:
    body = await request.body()
    return await run_once_after(
        rt,
        actor,
        f"orders.payments:{order_id}",
        idempotency_key,
        body,
        lambda: payment_flow.open_online_trade(rt.uow, actor, order_id, data),
        lambda uow, trade: payment_flow.record_online(uow, actor, trade),
        single_statement=True,
    )


@router.post(
    "/orders/{order_id}/refunds",
    response_model=OrderOut,
    summary="Refund tickets of a paid order",
    responses={409: {"description": "`refund_not_allowed`"}},
)
async def refund(
    request: Request,
    rt: RuntimeDep,
    actor: ActorDep,
    order_id: str,
    data: RefundIn,
    idempotency_key: IdempotencyKey = None,
) -> OrjsonResponse:
    body = await request.body()
    return await run_once(
        rt,
        actor,
        f"orders.refunds:{order_id}",
        idempotency_key,
        body,
        lambda uow: refunds.refund_order(uow, actor, order_id, data),
        status_code=200,
    )


@router.get(
    "/orders/{order_id}/refunds",
    response_model=list[RefundOut],
    summary="An order's refunds and where each stands at its provider",
    responses={404: {"description": "`not_found`"}},
)
async def list_refunds(rt: RuntimeDep, actor: ActorDep, order_id: str) -> list[RefundOut]:
    """Oldest first. An online refund is `pending` while the outbox asks its provider, then `succeeded` or
    `failed` (`error`: the provider's answer); `stuck` means the outbox gave up asking. `retryable` ones are
    paid only after `POST /refunds/{id}/retry`."""
    async with rt.uow(readonly=True) as uow:
        return [RefundOut.model_validate(r) for r in await refunds.order_refunds(uow, actor, order_id)]


@router.post(
    "/refunds/{refund_id}/retry",
    response_model=RefundOut,
    summary="Ask the provider again for a refund it refused or that the outbox gave up on",
    responses={
        403: {"description": "`permission_denied`: needs `payment.refund`"},
        404: {"description": "`not_found`: no such refund for your organizer"},
        409: {
            "description": "`refund_not_retryable` (`state`: `succeeded` — paid out, never asked twice;"
            " `in_progress` — the outbox is still asking; `changed` — another retry won), `idempotency_in_progress`"
        },
        422: {"description": "`idempotency_key_reused`"},
    },
)
async def retry_refund(
    request: Request, rt: RuntimeDep, actor: ActorDep, refund_id: str, idempotency_key: IdempotencyKey = None
) -> OrjsonResponse:
    """The same refund goes back to `pending` and the outbox asks its provider again, with the same refund id:
    no second refund, and no second pay-out even when the provider had paid it and its answer was lost. Send an
    `Idempotency-Key` to retry the request safely: a repeat answers the first retry."""
    body = await request.body()

    async def retry(uow: UnitOfWork) -> RefundOut:
        return RefundOut.model_validate(await payments.retry_refund(uow, actor, refund_id))

    answer = await run_once(rt, actor, f"refunds.retry:{refund_id}", idempotency_key, body, retry, status_code=200)
    worker = rt.extras.get("worker")
    if worker is not None:
        worker.wake_outbox()  # ask the provider now rather than at the next sweep
    return answer


async def _start_payment_lean(call: LeanCall) -> Response:
    actor = await current_actor(call.request, call.rt, call.request.headers.get("authorization"))
    order_id = call.path_params["order_id"]
    return await start_payment(call.request, call.rt, actor, order_id, call.data, call.headers["idempotency-key"])


# A paid order's requests from the buyer's app, served by ``api.lean.LeanLane`` (same checks and answers, less
# framework): placing it, starting its payment, and the held request that learns it is paid.
LEAN_ROUTES = [
    LeanRoute("POST", "/api/v1/orders", create_order, OrderIn, _create_order_lean, {"idempotency-key": 200}),
    LeanRoute(
        "POST",
        "/api/v1/orders/{order_id}/payments",
        start_payment,
        OnlinePaymentIn,
        _start_payment_lean,
        {"idempotency-key": 200},
    ),
    LeanRoute("GET", "/api/v1/orders/{order_id}/status", order_status, None, _order_status_lean, query=StatusQuery),
]
