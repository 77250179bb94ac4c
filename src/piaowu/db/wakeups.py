"""Wake-ups on commit: a request waiting for "this order changed" is woken by the transaction that changed it.

PostgreSQL: the writer runs ``pg_notify(channel, key)`` inside its own transaction (``UnitOfWork.announce``),
which PostgreSQL delivers only if and when that transaction commits, to every process LISTENing — every worker
of every host on the same database. Each process keeps ONE listening connection of its own (not from the pool)
and wakes its local waiters. SQLite is one host: the commit wakes the waiters of this process directly
(``after_commit``); a waiter in another process of the same host falls back to its timeout.

A wake-up is only a hint to read again: the waiter always re-reads the row through the ordinary, authorized read,
so a lost or spurious wake-up costs a read, never a wrong answer. No database connection is held while waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.engine import make_url

log = logging.getLogger("piaowu.wakeups")

CHANNEL = "piaowu_order"
# Waiters per process; past that a wait answers at once and the client falls back to polling.
MAX_WAITERS = 5000


# A transaction's NOTIFYs not sent yet, on its session (PostgreSQL, ``UnitOfWork.announce``): they ride in the
# transaction's next one-statement write (``db.hotpath``) or go just before its COMMIT (``UnitOfWork.commit``).
# NOTIFY is transactional — delivered at COMMIT, dropped by ROLLBACK — so where in the transaction it is sent
# changes nothing but the count of round trips.
_DEFERRED = "piaowu.deferred_notify"


def defer_notify(session: Any, key: str) -> None:
    session.info.setdefault(_DEFERRED, []).append(key)


def take_deferred(session: Any) -> list[str]:
    """The keys to NOTIFY that were deferred on ``session``, now the caller's to send (none are left)."""
    return session.info.pop(_DEFERRED, None) or []


def give_back(session: Any, keys: list[str]) -> None:
    """Keys taken by a statement that failed: sent at COMMIT after all, if the transaction still commits."""
    if keys:
        session.info.setdefault(_DEFERRED, [])[:0] = keys


class WaitersFull(Exception):
    """Too many requests are held in this process already: answer now, let the client poll."""


class Wakeups:
    """Per-process registry of waiters by key (an order id), woken by local commits or PostgreSQL NOTIFY."""

    def __init__(self, database_url: str, *, max_waiters: int = MAX_WAITERS) -> None:
        url = make_url(database_url)
        self.postgres = url.get_backend_name() == "postgresql"
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False) if self.postgres else ""
        self.max_waiters = max_waiters
        self._waiters: dict[str, set[asyncio.Future[None]]] = defaultdict(set)
        self._count = 0
        self._conn: Any = None  # asyncpg.Connection LISTENing on CHANNEL
        self._connecting: asyncio.Lock | None = None

    @property
    def waiting(self) -> int:
        return self._count

    async def _listen(self) -> None:
        """Open the listening connection if it is not open (lazily: only processes that hold requests need it)."""
        if not self.postgres or (self._conn is not None and not self._conn.is_closed()):
            return
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._conn is not None and not self._conn.is_closed():
                return
            import asyncpg

            conn = await asyncpg.connect(self._dsn)
            await conn.add_listener(CHANNEL, self._on_notify)
            # A lost connection may have swallowed wake-ups: wake everyone to re-read, reconnect on the next wait.
            conn.add_termination_listener(lambda _c: self.wake_all())
            self._conn = conn

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.wake(payload)

    def wake(self, key: str) -> None:
        """Wake this process's waiters on ``key`` (they re-read; nothing is passed to them)."""
        for fut in self._waiters.pop(key, ()):
            if not fut.done():
                fut.set_result(None)

    def wake_all(self) -> None:
        for key in list(self._waiters):
            self.wake(key)

    @asynccontextmanager
    async def watch(self, key: str) -> AsyncIterator[asyncio.Future[None]]:
        """Register interest in ``key`` BEFORE reading its state (a commit between the read and the wait then
        still wakes us); ``await asyncio.wait_for(fut, timeout)`` inside. Raises WaitersFull when bounded out."""
        if self._count >= self.max_waiters:
            raise WaitersFull()
        await self._listen()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[key].add(fut)
        self._count += 1
        try:
            yield fut
        finally:
            self._count -= 1
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.discard(fut)
                if not waiting:
                    del self._waiters[key]

    async def aclose(self) -> None:
        self.wake_all()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close(timeout=2)
            except Exception:  # closing at shutdown; nothing is waiting on it any more
                log.debug("closing the listening connection failed", exc_info=True)
