"""The public shop API: what a buyer's app needs, without credentials. Scoped by the organizer's slug."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from piaowu.accounts.service import customer_actor
from piaowu.api.deps import IdempotencyKey, RuntimeDep, shop_organizer
from piaowu.api.idempotency import run_once, run_once_after
from piaowu.api.lean import LeanCall, LeanRoute
from piaowu.api.responses import OrjsonResponse
from piaowu.catalog import event_service
from piaowu.catalog.schemas import EventOut, SessionAvailabilityOut, SessionOut
from piaowu.fields import InputModel
from piaowu.orders import payment_flow
from piaowu.orders import service as orders
from piaowu.orders.schemas import OnlinePaymentIn, OrderIn, OrderLookupIn, OrderOut, PaymentStartOut
from piaowu.orders.states import UNPAID
from piaowu.ratelimit import client_ip, enforce
from piaowu.seating import shop_views
from piaowu.workers.reconcile import recover_order

router = APIRouter(prefix="/shop/{slug}")


class ContactIn(InputModel):
    contact: str = Field(min_length=3, max_length=254, description="the buyer's mobile number or e-mail")


class CustomerPaymentIn(OnlinePaymentIn):
    contact: str = Field(min_length=3, max_length=254)


class SeatingBrief(BaseModel):
    """The session sells assigned seats: read its ``seat-map`` and ``seat-availability``, buy ``seat`` items."""

    seat_count: int
    zones: list[str]


class SessionPage(BaseModel):
    event: EventOut
    session: SessionOut
    seating: SeatingBrief | None = None  # null: general admission


@router.get("/events", response_model=list[EventOut], summary="Published events with visible sessions")
async def events(slug: str, rt: RuntimeDep) -> list[EventOut]:
    org = await shop_organizer(rt, slug)
    async with rt.uow(readonly=True) as uow:
        return await event_service.published_events(uow, org.id)


@router.get("/sessions/{session_id}", response_model=SessionPage, summary="A session with ticket types")
async def session(slug: str, session_id: str, rt: RuntimeDep) -> SessionPage:
    org = await shop_organizer(rt, slug)
    async with rt.uow(readonly=True) as uow:
        ev, s = await event_service.public_session(uow, org.id, session_id)
        seating = await shop_views.seating_brief(uow, org.id, session_id)
    return SessionPage(event=ev, session=s, seating=SeatingBrief(**seating) if seating else None)


@router.get(
    "/sessions/{session_id}/availability",
    response_model=SessionAvailabilityOut,
    summary="What is left of a session now (at most shop_cache_seconds old)",
    responses={404: {"description": "`not_found`"}},
)
async def availability(slug: str, session_id: str, rt: RuntimeDep) -> Response:
    # Every buyer's page asks this during a sale: the rendered bytes are shared per process for
    # shop_cache_seconds (core/microcache.py), so a burst of requests costs one database read per interval.
    # The key holds the slug: the session is read within that organizer only, so no other shop's answer is used.
    async def read() -> bytes:
        org = await shop_organizer(rt, slug)
        async with rt.uow(readonly=True) as uow:
            out = await event_service.public_availability(uow, org.id, session_id)
        return orjson.dumps(out.model_dump())

    body = await rt.shop_cache.get(("availability", slug, session_id), read)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})


async def _availability_lean(call: LeanCall) -> Response:
    return await availability(call.path_params["slug"], call.path_params["session_id"], call.rt)


async def limit_order_creation(request: Request, rt: RuntimeDep) -> None:
    """Per client address, before the body is validated: invalid and replayed requests count too."""
    await enforce(rt.limiter, f"shop.orders:{client_ip(request)}", rt.settings.shop_orders_per_minute, 60)


@router.post(
    "/orders",
    response_model=OrderOut,
    status_code=201,
    summary="Buy: create a pending order",
    responses={
        409: {
            "description": "`sold_out`, `not_on_sale`; seats: `seat_taken` / `seat_blocked` (with `seats`),"
            " `no_adjacent_block`, `not_enough_seats`, `no_wheelchair_space`, `restricted_view_only`"
        },
        422: {"description": "validation; `seat_required` (a seated session's ticket type as counted admission)"},
        429: {"description": "`rate_limited` (see the Retry-After header)"},
    },
    dependencies=[Depends(limit_order_creation)],
)
async def create_order(
    slug: str, request: Request, rt: RuntimeDep, data: OrderIn, idempotency_key: IdempotencyKey = None
) -> OrjsonResponse:
    org = await shop_organizer(rt, slug)
    actor = customer_actor(org.id)
    return await run_once(
        rt,
        actor,
        "shop.orders",
        idempotency_key,
        await request.body(),
        lambda uow: orders.create_order(uow, actor, data),
        single_statement=True,
    )


async def _create_order_lean(call: LeanCall) -> Response:
    # ``enforce_route`` has run (a public route); then the route's limit and ``create_order`` itself.
    await limit_order_creation(call.request, call.rt)
    slug = call.path_params["slug"]
    return await create_order(slug, call.request, call.rt, call.data, call.headers["idempotency-key"])


# A buyer's app placing an order, and every buyer's page polling a session's availability during a sale, served by
# ``api.lean.LeanLane`` (same checks and answers, less framework).
LEAN_ROUTES = [
    LeanRoute(
        "POST", "/api/v1/shop/{slug}/orders", create_order, OrderIn, _create_order_lean, {"idempotency-key": 200}
    ),
    LeanRoute("GET", "/api/v1/shop/{slug}/sessions/{session_id}/availability", availability, None, _availability_lean),
]


@router.post(
    "/orders/lookup",
    response_model=OrderOut,
    summary="Find an order by its number and contact",
    responses={404: {"description": "`order_not_found`"}},
)
async def lookup(slug: str, rt: RuntimeDep, data: OrderLookupIn) -> OrderOut:
    # A notification may be late or lost: ask the gateway (no transaction open: a network call) before
    # answering, then apply what it said — a pending order is paid, a closed one revived or refunded.
    org = await shop_organizer(rt, slug)
    async with rt.uow(readonly=True) as uow:
        order = await orders.order_for_customer(uow, org.id, data.code, data.contact)
    if order.status in UNPAID:
        await recover_order(rt, org.id, order.id)
    async with rt.uow(readonly=True) as uow:
        return await orders.lookup_order(uow, org.id, data.code, data.contact)


@router.post(
    "/orders/{code}/payments",
    response_model=PaymentStartOut,
    status_code=201,
    summary="Start paying a pending order online",
    responses={410: {"description": "`hold_expired`"}},
)
async def pay(
    slug: str,
    code: str,
    request: Request,
    rt: RuntimeDep,
    data: CustomerPaymentIn,
    idempotency_key: IdempotencyKey = None,
) -> OrjsonResponse:
    org = await shop_organizer(rt, slug)
    actor = customer_actor(org.id)
    payment = OnlinePaymentIn(provider=data.provider, return_url=data.return_url)
    return await run_once_after(
        rt,
        actor,
        f"shop.pay:{code}",
        idempotency_key,
        await request.body(),
        lambda: payment_flow.open_customer_trade(rt.uow, org.id, code, data.contact, payment),
        lambda uow, opened: payment_flow.record_online(uow, opened[0], opened[1]),
        single_statement=True,
    )


@router.post("/orders/{code}/cancel", response_model=OrderOut, summary="Cancel my pending order")
async def cancel(slug: str, code: str, rt: RuntimeDep, data: ContactIn) -> OrderOut:
    org = await shop_organizer(rt, slug)
    async with rt.uow() as uow:
        out = await orders.cancel_by_customer(uow, org.id, code, data.contact)
        await uow.commit()
    return out
