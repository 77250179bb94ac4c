"""Rate limits: the protocol every limiter keeps, and the in-memory (one process) implementation.

A limiter counts hits per key in a fixed window that starts at the key's first hit and lasts ``window_s``
seconds; the next hit after it ends starts a new window. Denied hits are counted too (they do not extend the
window). The Redis implementation shared by all workers is in ``piaowu.ratelimit``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from piaowu.core.clock import Clock


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: int  # 0 when allowed; else whole seconds until the window ends (at least 1)
    remaining: int  # hits still allowed in this window


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: int) -> Decision:
        """Count one hit on ``key``; allowed while the window's count is at most ``limit``."""
        ...

    async def reset(self, key: str) -> None:
        """Forget ``key``'s count (e.g. after a successful sign-in)."""
        ...

    async def aclose(self) -> None: ...


def seconds_until(end: datetime, now: datetime) -> int:
    return max(1, math.ceil((end - now).total_seconds()))


class InMemoryRateLimiter:
    """Counts in this process only: with N workers a client gets up to N× the limit.

    Safe under asyncio without a lock because ``hit`` never awaits between reading and writing a count.
    """

    def __init__(self, clock: Clock, *, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._windows: dict[str, tuple[datetime, int]] = {}  # key → (window end, count)

    async def hit(self, key: str, limit: int, window_s: int) -> Decision:
        now = self.clock.now()
        end, count = self._windows.get(key, (now, 0))
        if end <= now:
            if len(self._windows) >= self.max_keys:
                self._prune(now)
            end, count = now + timedelta(seconds=window_s), 0
        count += 1
        self._windows[key] = (end, count)
        if count <= limit:
            return Decision(True, 0, limit - count)
        return Decision(False, seconds_until(end, now), 0)

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    async def aclose(self) -> None:
        return None

    def _prune(self, now: datetime) -> None:
        # A flood of distinct keys must not eat the memory: drop ended windows, and if that is not enough,
        # everything (forgetting counts lets a few extra hits through; running out of memory stops the shop).
        self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
        if len(self._windows) >= self.max_keys:
            self._windows.clear()
