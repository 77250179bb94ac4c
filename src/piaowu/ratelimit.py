"""Rate limits shared by all workers (Redis), the factory the runtime uses, and ``enforce`` for routes.

``build_limiter`` gives a ``RedisRateLimiter`` when ``PIAOWU_REDIS_URL`` is set, else the per-process
``InMemoryRateLimiter`` (core/ratelimit.py). The runtime builds one at start-up (``runtime.limiter``) and
the app closes it on shutdown.

Using it from a route or page::

    await enforce(rt.limiter, f"shop.orders:{client_ip(request)}", rt.settings.shop_orders_per_minute, 60)

raises ``RateLimited`` (429, code ``rate_limited``, data ``retry_after`` in seconds) when the key is over its
limit; a limit of 0 disables the check. The API turns it into problem+json with a ``Retry-After`` header.
A page (e.g. the web shop's order form in web/shop.py) calls the same line inside its
``try: … except DomainError`` and shows the message inline, re-rendering the form with status 429; use a key
of its own (``web.orders:<ip>``) or the API's (``shop.orders:<ip>``) to share one budget between both.
Where failures count rather than attempts (sign-in), hit before the check and ``reset`` the key on success,
as web/manage/auth.py does.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from piaowu.core.clock import Clock
from piaowu.core.errors import RateLimited
from piaowu.core.ratelimit import Decision, InMemoryRateLimiter, RateLimiter

if TYPE_CHECKING:
    from starlette.requests import Request

log = logging.getLogger("piaowu.ratelimit")

PREFIX = "piaowu:rl:"

# One round trip, atomic: count the hit and give the key its window on the first hit. PTTL < 0 also repairs
# a key left without an expiry (it would otherwise block for ever).
_HIT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


class RedisRateLimiter:
    """One count per key for all workers and hosts, in Redis under ``piaowu:rl:``.

    If Redis cannot be reached the limiter FAILS OPEN: the hit is allowed and a warning is logged. A rate
    limit protects the shop from abuse; turning buyers away (or answering 500) because a cache is down
    would be worse than letting a burst through. After a failure Redis is not asked again for
    ``cooldown_s`` seconds, so an outage costs each request nothing, and the log gets one line per outage.
    """

    def __init__(self, client: Redis, clock: Clock, *, prefix: str = PREFIX, cooldown_s: float = 5.0) -> None:
        self.client = client
        self.clock = clock
        self.prefix = prefix
        self.cooldown = timedelta(seconds=cooldown_s)
        self._script = client.register_script(_HIT)
        self._down_until: datetime | None = None

    @classmethod
    def from_url(cls, url: str, clock: Clock, **kwargs: object) -> RedisRateLimiter:
        # Short timeouts and no retries: a request must not wait on a sick Redis (it fails open anyway).
        client = Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 0), decode_responses=False
        )
        return cls(client, clock, **kwargs)  # type: ignore[arg-type]

    async def hit(self, key: str, limit: int, window_s: int) -> Decision:
        if self._down_until is not None and self.clock.now() < self._down_until:
            return Decision(True, 0, limit)
        try:
            count, ttl_ms = await self._script(keys=[self.prefix + key], args=[int(window_s * 1000)])
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return Decision(True, 0, limit)
        if self._down_until is not None:
            self._down_until = None
            log.warning("Redis is reachable again; rate limits are shared again")
        count, ttl_ms = int(count), int(ttl_ms)
        if count <= limit:
            return Decision(True, 0, limit - count)
        return Decision(False, max(1, -(-ttl_ms // 1000)), 0)

    async def reset(self, key: str) -> None:
        if self._down_until is not None and self.clock.now() < self._down_until:
            return
        try:
            await self.client.delete(self.prefix + key)
        except (RedisError, OSError) as exc:
            self._failed(exc)

    async def aclose(self) -> None:
        await self.client.aclose()

    def _failed(self, exc: BaseException) -> None:
        if self._down_until is None:
            log.warning("Redis unreachable (%s): rate limits are OFF (failing open) until it is back", exc)
        self._down_until = self.clock.now() + self.cooldown


def build_limiter(redis_url: str, clock: Clock) -> RateLimiter:
    """Redis when a URL is configured, else counts in this process. Connects lazily, on the first hit."""
    if redis_url:
        return RedisRateLimiter.from_url(redis_url, clock)
    return InMemoryRateLimiter(clock)


def client_ip(request: Request) -> str:
    """The peer address. Behind a reverse proxy, run uvicorn with ``--proxy-headers`` and
    ``--forwarded-allow-ips`` so this is the client's, not the proxy's (see docs/operations.md)."""
    return request.client.host if request.client else "unknown"


async def enforce(limiter: RateLimiter, key: str, limit: int, window_s: int) -> Decision | None:
    """Count a hit on ``key``; raise ``RateLimited`` when over ``limit``. ``limit <= 0`` disables the check."""
    if limit <= 0:
        return None
    decision = await limiter.hit(key, limit, window_s)
    if not decision.allowed:
        raise RateLimited(retry_after=decision.retry_after_s)
    return decision


__all__ = ["Decision", "InMemoryRateLimiter", "RateLimiter", "RedisRateLimiter", "build_limiter", "enforce"]
