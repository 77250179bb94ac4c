"""core.microcache: values served at most ``ttl`` after their read began, one read per key at a time."""

from __future__ import annotations

import asyncio

import pytest

from piaowu.core.microcache import MicroCache


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def test_a_value_is_served_until_ttl_after_its_read_began() -> None:
    clock, reads = Clock(), []

    async def read() -> int:
        reads.append(clock.t)
        clock.t += 0.2  # the read itself takes time: the bound counts from its start
        return len(reads)

    cache: MicroCache[int] = MicroCache(0.5, clock)
    assert await cache.get("k", read) == 1
    clock.t = 1000.0 + 0.49
    assert await cache.get("k", read) == 1
    clock.t = 1000.0 + 0.5  # 0.5 s after the first read began (0.3 s after it ended): stale, read again
    assert await cache.get("k", read) == 2
    assert cache.peek("k") == 2 and cache.peek("other") is None


async def test_concurrent_misses_share_one_read() -> None:
    gate, reads = asyncio.Event(), []

    async def read() -> str:
        reads.append(1)
        await gate.wait()
        return "v"

    cache: MicroCache[str] = MicroCache(0.5, Clock())
    tasks = [asyncio.create_task(cache.get("k", read)) for _ in range(20)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*tasks) == ["v"] * 20
    assert len(reads) == 1


async def test_errors_are_not_cached_and_reach_every_waiter() -> None:
    gate, reads = asyncio.Event(), []

    async def fail() -> str:
        reads.append(1)
        await gate.wait()
        raise LookupError("gone")

    cache: MicroCache[str] = MicroCache(0.5, Clock())
    tasks = [asyncio.create_task(cache.get("k", fail)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results) and len(reads) == 1

    async def ok() -> str:
        return "back"

    assert await cache.get("k", ok) == "back"


async def test_keys_are_separate_and_invalidate_drops_at_once() -> None:
    cache: MicroCache[str] = MicroCache(10, Clock())

    async def a() -> str:
        return "a"

    async def b() -> str:
        return "b"

    assert (await cache.get(("x", "zh_CN"), a), await cache.get(("x", "en"), b)) == ("a", "b")
    cache.invalidate(("x", "zh_CN"))
    assert cache.peek(("x", "zh_CN")) is None and cache.peek(("x", "en")) == "b"


@pytest.mark.parametrize("ttl", [0, -1])
async def test_no_ttl_means_no_cache(ttl: float) -> None:
    n = []

    async def read() -> int:
        n.append(1)
        return len(n)

    cache: MicroCache[int] = MicroCache(ttl, Clock())
    assert [await cache.get("k", read) for _ in range(3)] == [1, 2, 3]
