"""Back-office sign-in: at most 5 failures per e-mail + address in 5 minutes, through the shared limiter."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from piaowu.ratelimit import PREFIX, RedisRateLimiter
from tests.conftest import require_or_skip
from tests.integration.test_redis_ratelimit import REDIS_URL, redis_available
from tests.web.helpers import login


@pytest.fixture
async def from_elsewhere(app) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ANN001
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_the_limit_is_per_address_and_says_how_long_to_wait(client, from_elsewhere, tenant) -> None:  # noqa: ANN001
    for _ in range(5):
        assert (await login(client, tenant.owner_email, "nope nope")).status_code == 401
    blocked = await login(client, tenant.owner_email.upper(), tenant.password)  # the e-mail's case does not matter
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "300"
    assert "失败次数过多，请 5 分钟后再试。" in blocked.text
    assert (await login(from_elsewhere, tenant.owner_email, tenant.password)).status_code == 303


async def test_a_successful_sign_in_clears_the_failures(client, tenant) -> None:  # noqa: ANN001
    for _ in range(4):
        assert (await login(client, tenant.owner_email, "nope nope")).status_code == 401
    assert (await login(client, tenant.owner_email, tenant.password)).status_code == 303
    client.cookies.clear()  # signed out
    for _ in range(5):
        assert (await login(client, tenant.owner_email, "nope nope")).status_code == 401
    assert (await login(client, tenant.owner_email, "nope nope")).status_code == 429


async def test_an_empty_form_is_not_counted(client, tenant) -> None:  # noqa: ANN001
    for _ in range(10):
        assert (await login(client, tenant.owner_email, "")).status_code == 422
    assert (await login(client, tenant.owner_email, tenant.password)).status_code == 303


@pytest.mark.redis
async def test_failures_are_counted_in_redis_when_configured(runtime, client, tenant) -> None:  # noqa: ANN001
    require_or_skip(redis_available(), f"Redis at {REDIS_URL}")
    prefix = f"{PREFIX}test:{uuid.uuid4().hex}:"
    runtime.limiter = RedisRateLimiter.from_url(REDIS_URL, runtime.clock, prefix=prefix)
    key = f"{prefix}login:{tenant.owner_email}:127.0.0.1"
    try:
        for _ in range(5):
            assert (await login(client, tenant.owner_email, "nope nope")).status_code == 401
        assert int(await runtime.limiter.client.get(key)) == 5
        blocked = await login(client, tenant.owner_email, tenant.password)
        assert blocked.status_code == 429 and 1 <= int(blocked.headers["Retry-After"]) <= 300
    finally:
        await runtime.limiter.client.delete(key)
        await runtime.limiter.aclose()
