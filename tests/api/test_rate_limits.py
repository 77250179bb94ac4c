"""Order creation on the public shop API is limited per client address (429 problem+json, Retry-After)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from piaowu.ratelimit import PREFIX, RedisRateLimiter
from tests.conftest import require_or_skip
from tests.factories import on_sale_session, owner_actor
from tests.integration.test_redis_ratelimit import REDIS_URL, redis_available
from tests.order_helpers import BUYER


def _body(ticket_type_id: str) -> dict:
    return {"items": [{"ticket_type_id": ticket_type_id, "quantity": 1}], "buyer": BUYER}


@pytest.fixture
async def from_elsewhere(app) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ANN001
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_order_creation_is_limited_per_client_address(runtime, client, from_elsewhere, tenant, clock) -> None:  # noqa: ANN001
    runtime.settings.shop_orders_per_minute = 2
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=10)
    url = f"/api/v1/shop/{tenant.slug}/orders"
    assert (await client.post(url, json=_body(sale.ticket_type_id))).status_code == 201
    assert (await client.post(url, json={"items": []})).status_code == 422  # invalid requests count too

    r = await client.post(url, json=_body(sale.ticket_type_id), headers={"Accept-Language": "en"})
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["code"] == "rate_limited" and problem["retry_after"] == 60
    assert r.headers["Retry-After"] == "60"
    assert problem["title"] == "Too many requests. Try again in 60 seconds."
    zh = await client.post(url, json=_body(sale.ticket_type_id), headers={"Accept-Language": "zh-CN"})
    assert zh.json()["title"] == "请求过于频繁，请在 60 秒后重试。"

    assert (await from_elsewhere.post(url, json=_body(sale.ticket_type_id))).status_code == 201  # another address

    s = (await client.get(f"/api/v1/sessions/{sale.session_id}", headers=tenant.auth)).json()
    assert s["held"] == 2  # nothing was held for the refused requests

    clock.advance(timedelta(seconds=45))
    assert (await client.post(url, json=_body(sale.ticket_type_id))).headers["Retry-After"] == "15"
    clock.advance(timedelta(seconds=15))
    assert (await client.post(url, json=_body(sale.ticket_type_id))).status_code == 201


async def test_zero_disables_the_limit(runtime, client, tenant) -> None:  # noqa: ANN001
    runtime.settings.shop_orders_per_minute = 0
    url = f"/api/v1/shop/{tenant.slug}/orders"
    for _ in range(40):
        assert (await client.post(url, json={"items": []})).status_code == 422


async def test_orders_go_through_when_redis_is_down(runtime, client, tenant) -> None:  # noqa: ANN001
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    runtime.limiter = RedisRateLimiter.from_url(f"redis://127.0.0.1:{port}/0", runtime.clock)
    runtime.settings.shop_orders_per_minute = 1
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=10)
    url = f"/api/v1/shop/{tenant.slug}/orders"
    try:
        for _ in range(3):  # fails open: no 429, and never a 500
            assert (await client.post(url, json=_body(sale.ticket_type_id))).status_code == 201
    finally:
        await runtime.limiter.aclose()


@pytest.mark.redis
async def test_the_limit_is_shared_through_redis(runtime, app, client, tenant) -> None:  # noqa: ANN001
    require_or_skip(redis_available(), f"Redis at {REDIS_URL}")
    runtime.settings.shop_orders_per_minute = 1
    prefix = f"{PREFIX}test:{uuid.uuid4().hex}:"
    url = f"/api/v1/shop/{tenant.slug}/orders"
    # Two workers' limiters on the same Redis: the second sees the count the first made.
    first = RedisRateLimiter.from_url(REDIS_URL, runtime.clock, prefix=prefix)
    second = RedisRateLimiter.from_url(REDIS_URL, runtime.clock, prefix=prefix)
    try:
        runtime.limiter = first
        assert (await client.post(url, json={"items": []})).status_code == 422
        runtime.limiter = second
        r = await client.post(url, json={"items": []})
        assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    finally:
        await first.client.delete(prefix + "shop.orders:127.0.0.1")
        await first.aclose()
        await second.aclose()
