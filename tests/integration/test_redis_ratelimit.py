"""The Redis limiter against the real Redis at 127.0.0.1:6379 (``redis`` marker; skips locally without it,
fails in CI), and its fail-open behaviour when Redis cannot be reached."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis
from redis.asyncio import Redis

from piaowu.core.clock import FrozenClock
from piaowu.core.ratelimit import Decision
from piaowu.ratelimit import PREFIX, RedisRateLimiter, build_limiter
from tests.conftest import require_or_skip

REDIS_URL = os.environ.get("PIAOWU_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
_REDIS_OK: bool | None = None


def redis_available() -> bool:
    global _REDIS_OK
    if _REDIS_OK is None:
        try:
            _REDIS_OK = bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping())
        except (redis.RedisError, OSError):
            _REDIS_OK = False
    return _REDIS_OK


@pytest.fixture
async def real(clock: FrozenClock) -> AsyncIterator[RedisRateLimiter]:
    """A limiter on the real Redis with a key prefix of this test's own, deleted afterwards."""
    require_or_skip(redis_available(), f"Redis at {REDIS_URL}")
    prefix = f"{PREFIX}test:{uuid.uuid4().hex}:"
    limiter = RedisRateLimiter(Redis.from_url(REDIS_URL), clock, prefix=prefix)
    yield limiter
    keys = [k async for k in limiter.client.scan_iter(match=prefix + "*")]
    if keys:
        await limiter.client.delete(*keys)
    await limiter.aclose()


@pytest.mark.redis
async def test_counts_in_redis_with_the_window_as_expiry(real: RedisRateLimiter) -> None:
    assert [await real.hit("k", 2, 30) for _ in range(2)] == [Decision(True, 0, 1), Decision(True, 0, 0)]
    denied = await real.hit("k", 2, 30)
    assert not denied.allowed and 29 <= denied.retry_after_s <= 30 and denied.remaining == 0
    key = real.prefix + "k"
    assert int(await real.client.get(key)) == 3
    assert 29_000 < await real.client.pttl(key) <= 30_000  # the window is the key's expiry, set once
    assert (await real.hit("other", 2, 30)).allowed
    await real.reset("k")
    assert await real.client.exists(key) == 0
    assert await real.hit("k", 2, 30) == Decision(True, 0, 1)


@pytest.mark.redis
async def test_a_key_left_without_expiry_gets_one(real: RedisRateLimiter) -> None:
    await real.client.set(real.prefix + "stuck", 99)
    denied = await real.hit("stuck", 5, 10)
    assert not denied.allowed and denied.retry_after_s == 10
    assert 0 < await real.client.pttl(real.prefix + "stuck") <= 10_000


@pytest.mark.redis
async def test_a_short_window_ends(real: RedisRateLimiter) -> None:
    assert (await real.hit("k", 1, 1)).allowed
    assert not (await real.hit("k", 1, 1)).allowed
    await real.client.pexpire(real.prefix + "k", 50)  # the window, shortened: no second of sleep in the suite
    await asyncio.sleep(0.1)
    assert (await real.hit("k", 1, 1)).allowed


@pytest.mark.redis
async def test_concurrent_hits_are_counted_exactly(real: RedisRateLimiter) -> None:
    decisions = await asyncio.gather(*(real.hit("race", 10, 60) for _ in range(50)))
    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(10))
    assert int(await real.client.get(real.prefix + "race")) == 50


@pytest.mark.redis
async def test_build_limiter_uses_redis_when_a_url_is_set(clock: FrozenClock) -> None:
    require_or_skip(redis_available(), f"Redis at {REDIS_URL}")
    limiter = build_limiter(REDIS_URL, clock)
    try:
        assert isinstance(limiter, RedisRateLimiter)
        key = f"test:{uuid.uuid4().hex}"
        assert (await limiter.hit(key, 1, 5)).allowed
        assert not (await limiter.hit(key, 1, 5)).allowed  # counted in Redis, not just allowed blindly
        await limiter.reset(key)
    finally:
        await limiter.aclose()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_fails_open_and_warns_once_when_redis_is_unreachable(clock: FrozenClock, caplog) -> None:  # noqa: ANN001
    limiter = RedisRateLimiter.from_url(f"redis://127.0.0.1:{_closed_port()}/0", clock)
    caplog.set_level(logging.WARNING, logger="piaowu.ratelimit")
    started = time.monotonic()
    try:
        decisions = [await limiter.hit("k", 1, 60) for _ in range(20)]
        await limiter.reset("k")  # does not raise either
    finally:
        await limiter.aclose()
    assert all(d == Decision(True, 0, 1) for d in decisions)
    assert time.monotonic() - started < 5  # not 20 connection timeouts
    warnings = [r for r in caplog.records if "failing open" in r.getMessage()]
    assert len(warnings) == 1  # one line per outage, not one per request


@pytest.mark.redis
async def test_after_an_outage_redis_is_asked_again_once_the_cooldown_is_over(real, clock) -> None:  # noqa: ANN001
    real._failed(ConnectionError("simulated outage"))
    assert (await real.hit("k", 1, 60)).allowed
    assert await real.client.exists(real.prefix + "k") == 0  # during the cooldown Redis is not asked
    clock.advance(timedelta(seconds=6))
    assert (await real.hit("k", 1, 60)).allowed
    assert not (await real.hit("k", 1, 60)).allowed  # counted again
