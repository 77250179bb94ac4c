"""The process-wide objects a request or job needs, built once at start-up and injected (no globals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from piaowu.accounts.passwords import Passwords
from piaowu.config import Settings
from piaowu.core.clock import Clock, SystemClock
from piaowu.core.microcache import MicroCache
from piaowu.core.ratelimit import InMemoryRateLimiter, RateLimiter
from piaowu.db.engine import Database, create_database
from piaowu.db.uow import UnitOfWork
from piaowu.db.wakeups import Wakeups
from piaowu.ratelimit import build_limiter


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    passwords: Passwords
    # Extension points other areas fill in at start-up (payment providers, inventory strategy, wake-ups).
    extras: dict[str, Any] = field(default_factory=dict)
    # What those areas opened on the way and ``aclose`` closes (an HTTP client session's connections).
    on_close: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    strategies: dict[str, Any] = field(default_factory=dict)
    # Shared with every worker through Redis when PIAOWU_REDIS_URL is set (piaowu/ratelimit.py).
    limiter: RateLimiter = None  # type: ignore[assignment]  # None → in memory, on this runtime's clock
    # What the shop's browsing reads most during a sale (availability JSON, session pages), per process.
    shop_cache: MicroCache[Any] = None  # type: ignore[assignment]
    # Requests waiting for an order to change, woken by the commit that changed it (db/wakeups.py).
    wakeups: Wakeups = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = InMemoryRateLimiter(self.clock)
        if self.shop_cache is None:
            self.shop_cache = MicroCache(self.settings.shop_cache_seconds, lambda: self.clock.now().timestamp())
        if self.wakeups is None:
            self.wakeups = Wakeups(self.db.url)

    def uow(self, *, readonly: bool = False, autocommit: bool = False) -> UnitOfWork:
        return UnitOfWork(
            self.db,
            self.clock,
            readonly=readonly,
            autocommit=autocommit,
            strategies=self.strategies,
            settings=self.settings,
            wakeups=self.wakeups,
        )

    async def aclose(self) -> None:
        """Release what the runtime holds outside its pools as well as in them: what ``on_close`` lists, the
        listening connection of the wake-ups (opened by the first held request, not part of the engine's pool, so
        ``db.dispose`` leaves it open), the rate limiter's connection, then the database pools."""
        while self.on_close:
            await self.on_close.pop()()
        await self.wakeups.aclose()
        await self.limiter.aclose()
        await self.db.dispose()

    @property
    def secret_key(self) -> str:
        return self.settings.resolved_secret_key()


def build_runtime(settings: Settings, *, clock: Clock | None = None, db: Database | None = None) -> Runtime:
    clock = clock or SystemClock()
    return Runtime(
        settings=settings,
        db=db
        or create_database(
            settings.resolved_database_url(),
            lock_timeout_seconds=settings.lock_timeout_seconds,
            pool_size=settings.db_pool_size,
        ),
        clock=clock,
        passwords=Passwords(settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism),
        limiter=build_limiter(settings.redis_url, clock),
    )
