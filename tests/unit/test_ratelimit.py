"""The in-memory limiter: fixed windows that start at a key's first hit, on an injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from piaowu.core.clock import FrozenClock
from piaowu.core.errors import RateLimited
from piaowu.core.ratelimit import Decision, InMemoryRateLimiter
from piaowu.ratelimit import enforce


@pytest.fixture
def limiter(clock: FrozenClock) -> InMemoryRateLimiter:
    return InMemoryRateLimiter(clock)


async def test_allows_up_to_the_limit_then_denies_until_the_window_ends(limiter, clock) -> None:  # noqa: ANN001
    got = [await limiter.hit("k", 3, 60) for _ in range(3)]
    assert [d.remaining for d in got] == [2, 1, 0] and all(d.allowed and d.retry_after_s == 0 for d in got)

    clock.advance(timedelta(seconds=20))
    assert await limiter.hit("k", 3, 60) == Decision(False, 40, 0)
    clock.advance(timedelta(seconds=39, milliseconds=500))
    assert await limiter.hit("k", 3, 60) == Decision(False, 1, 0)  # rounded up, never 0 while denied
    clock.advance(timedelta(milliseconds=500))  # exactly at the window's end: a new window
    assert await limiter.hit("k", 3, 60) == Decision(True, 0, 2)


async def test_denied_hits_do_not_extend_the_window(limiter, clock) -> None:  # noqa: ANN001
    await limiter.hit("k", 1, 10)
    for _ in range(5):
        clock.advance(timedelta(seconds=1))
        assert not (await limiter.hit("k", 1, 10)).allowed
    clock.advance(timedelta(seconds=5))
    assert (await limiter.hit("k", 1, 10)).allowed


async def test_keys_are_counted_apart_and_reset_forgets_one(limiter) -> None:  # noqa: ANN001
    assert (await limiter.hit("a", 1, 60)).allowed
    assert not (await limiter.hit("a", 1, 60)).allowed
    assert (await limiter.hit("b", 1, 60)).allowed
    await limiter.reset("a")
    assert (await limiter.hit("a", 1, 60)).allowed
    assert not (await limiter.hit("b", 1, 60)).allowed


async def test_a_flood_of_keys_is_bounded(clock) -> None:  # noqa: ANN001
    limiter = InMemoryRateLimiter(clock, max_keys=100)
    for i in range(100):
        await limiter.hit(f"old{i}", 5, 10)
    clock.advance(timedelta(seconds=11))
    await limiter.hit("busy", 1, 60)
    await limiter.hit("busy", 1, 60)
    assert len(limiter._windows) == 1  # the ended windows were dropped
    for i in range(200):
        await limiter.hit(f"new{i}", 5, 60)
    assert len(limiter._windows) <= 100


async def test_enforce_raises_rate_limited_with_retry_after_and_zero_disables(limiter) -> None:  # noqa: ANN001
    assert (await enforce(limiter, "k", 1, 30)).allowed
    with pytest.raises(RateLimited) as caught:
        await enforce(limiter, "k", 1, 30)
    assert caught.value.status == 429 and caught.value.data == {"retry_after": 30}
    assert str(caught.value) == "Too many requests. Try again in 30 seconds."
    for _ in range(5):
        assert await enforce(limiter, "k", 0, 30) is None
