"""A per-process micro-cache for what every buyer's page reads while a sale runs (availability, session pages).

Each value is served for at most ``ttl`` seconds **counted from the moment its read began**, so a change
committed at time *c* is seen by every answer given after *c* + ``ttl`` (a read that began before *c* is
dropped by then; one that began after *c* sees the change). The one exception is a read that itself takes longer
than ``ttl``: its callers get it when it ends, at most ``ttl`` + that read's duration after the change.

Concurrent misses of one key share one computation (single flight): when an entry expires under a flash sale's
load, one request reads the database and the others wait for its answer instead of all reading at once.
Errors are not cached. The clock is injected (tests move it instead of sleeping).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class MicroCache(Generic[V]):
    def __init__(self, ttl: float, clock: Callable[[], float], *, max_entries: int = 4096) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._entries: dict[Hashable, tuple[float, V]] = {}  # key → (read began at, value)
        self._flights: dict[Hashable, asyncio.Future[V]] = {}

    def peek(self, key: Hashable) -> V | None:
        """The cached value if still fresh, else None (no computation)."""
        hit = self._entries.get(key)
        if hit is not None and self._clock() - hit[0] < self.ttl:
            return hit[1]
        return None

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        hit = self._entries.get(key)
        if hit is not None and self._clock() - hit[0] < self.ttl:
            return hit[1]
        if self.ttl <= 0:
            return await compute()
        flight = self._flights.get(key)
        if flight is not None:
            return await asyncio.shield(flight)
        began = self._clock()
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            value = await compute()
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                flight.cancel()
            else:
                flight.set_exception(exc)
                flight.exception()  # retrieved: no "never retrieved" warning when nobody was waiting
            raise
        finally:
            self._flights.pop(key, None)
        if len(self._entries) >= self._max:
            # Bounded (a page is ~20 kB: 4,096 of them ~80 MB): a crawler walking every session cannot grow it
            # without end. Expired entries are not swept otherwise; clearing all costs one read per key.
            self._entries.clear()
        self._entries[key] = (began, value)
        flight.set_result(value)
        return value

    def invalidate(self, key: Hashable | None = None) -> None:
        """Drops one key (or everything): for changes made by this process that must show at once."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)
