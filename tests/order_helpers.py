"""Helpers for tests that drive orders through the API and the sandbox gateway."""

from __future__ import annotations

from typing import Any

import httpx

from piaowu.core.actor import Actor
from piaowu.orders import payment_flow
from piaowu.orders.schemas import OnlinePaymentIn, PaymentStartOut
from piaowu.payments import sandbox_gateway
from piaowu.runtime import Runtime
from piaowu.workers import outbox_dispatch

BUYER = {"name": "张三", "phone": "13812345678", "email": "zhang@example.com"}


def wire_callbacks(rt: Runtime, app: Any) -> None:
    """Let the outbox worker's HTTP calls (gateway notifications) reach the in-process app."""
    rt.extras["http_client"] = lambda: httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    )


async def create_order(
    client: httpx.AsyncClient, auth: dict[str, str], ticket_type_id: str, qty: int = 1, **extra: Any
) -> httpx.Response:
    body = {"items": [{"ticket_type_id": ticket_type_id, "quantity": qty}], "buyer": BUYER}
    return await client.post("/api/v1/orders", json=body, headers={**auth, **extra.get("headers", {})})


async def gateway_pay(rt: Runtime, redirect_url: str) -> str:
    """The buyer presses "pay" on the sandbox gateway's hosted page."""
    trade_no = redirect_url.rsplit("/", 1)[-1]
    async with rt.uow() as uow:
        await sandbox_gateway.pay(uow.session, uow.now(), trade_no)
        await uow.commit()
    return trade_no


async def drain(rt: Runtime) -> int:
    return await outbox_dispatch.drain(rt)


async def start_online(
    rt: Runtime, actor: Actor, order_id: str, data: OnlinePaymentIn | None = None
) -> PaymentStartOut:
    """Staff start an online payment as the API does: open the trade at the provider, then record it."""
    trade = await payment_flow.open_online_trade(rt.uow, actor, order_id, data or OnlinePaymentIn(provider="sandbox"))
    async with rt.uow() as uow:
        out = await payment_flow.record_online(uow, actor, trade)
        await uow.commit()
    return out
