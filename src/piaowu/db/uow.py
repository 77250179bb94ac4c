"""Unit of work: one session, one transaction. Services never commit; the boundary does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.config import Settings
from piaowu.core.clock import Clock
from piaowu.core.events import QUEUED
from piaowu.db import outbox
from piaowu.db.engine import Database
from piaowu.db.wakeups import CHANNEL, Wakeups, defer_notify, take_deferred


class UnitOfWork:
    """``async with UnitOfWork(db, clock) as uow: ...; await uow.commit()``.

    Leaving the block without ``commit()`` rolls back. Callbacks registered with ``after_commit`` run only
    once the transaction is durable (used to wake the outbox worker, never for anything that must not be lost:
    that goes to the outbox itself).
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        readonly: bool = False,
        autocommit: bool = False,
        strategies: dict[str, Any] | None = None,
        settings: Settings | None = None,
        wakeups: Wakeups | None = None,
    ) -> None:
        self.db = db
        # Deployment settings the use cases read (hold minutes, public URL, app secret); never toggles of behaviour.
        self.settings = settings or Settings()
        self.clock = clock
        self.readonly = readonly
        # Autocommit: each statement commits by itself (PostgreSQL). Only for use cases whose every write is
        # ONE statement — e.g. placing an order, whose reservation statement carries all of its rows. With
        # ``readonly``: reads that need no snapshot across statements, without BEGIN … ROLLBACK round trips.
        self.autocommit = autocommit
        # Injected behaviours by name (e.g. the inventory's reserve strategy); tests swap them, production never.
        self.strategies: dict[str, Any] = strategies or {}
        self.session: AsyncSession
        self._after_commit: list[Callable[[], Awaitable[None] | None]] = []
        self._now: datetime | None = None
        self.wakeups = wakeups

    async def __aenter__(self) -> UnitOfWork:
        if self.readonly and self.autocommit:  # reads only, each statement on its own (Database.single_reads)
            maker = self.db.single_reads or self.db.read_sessions
        elif self.readonly:
            maker = self.db.read_sessions
        elif self.autocommit:
            maker = self.db.autocommit_sessions
        else:
            maker = self.db.write_sessions
        self.session = maker()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # close() rolls back whatever was not committed and detaches objects without expiring them, so values
        # read inside the block stay readable after it. A session that never began nor holds an object has
        # nothing to close (an order placed from cached offers: its one statement ran on the driver's connection).
        session = self.session
        if session.in_transaction() or session.identity_map or session.new:
            await session.close()

    def now(self) -> datetime:
        """One "now" per unit of work, so every row written in it agrees on the time."""
        if self._now is None:
            self._now = self.clock.now()
        return self._now

    async def commit(self) -> None:
        for key in take_deferred(self.session):  # announced, not yet sent with a statement
            await self._notify(key)
        session = self.session
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            await session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for cb in callbacks:
            result = cb()
            if result is not None:
                await result

    async def rollback(self) -> None:
        take_deferred(self.session)  # nothing changed: nobody to tell
        await self.session.rollback()

    def emit(
        self, topic: str, payload: dict[str, Any], delay_s: float = 0, *, message_id: str | None = None
    ) -> str | None:
        """Write an outbox message in this transaction, if anything handles its topic (``core.events.QUEUED``).
        → the message id (``message_id`` when given), or None when nothing reacts to the topic (nothing is
        written)."""
        if topic not in QUEUED:
            return None
        return outbox.enqueue(self.session, self.now(), topic, payload, delay_s, message_id=message_id)

    async def announce(self, key: str) -> None:
        """Tell the requests waiting on ``key`` (an order id) that it changed — once, and only if, this
        transaction commits. PostgreSQL: NOTIFY in this transaction, delivered by the commit to every process on
        the database; this process's own waiters are also woken directly after the commit (and on SQLite, which
        is one host, that is all there is)."""
        if self.wakeups is None:
            return
        if self.db.dialect == "postgresql":
            if self.autocommit:  # every statement commits by itself: now, or never with the change
                await self._notify(key)
            else:  # with the transaction's next one-statement write, else just before its COMMIT (db/wakeups.py)
                defer_notify(self.session, key)
        wakeups = self.wakeups
        self.after_commit(lambda: wakeups.wake(key))

    async def _notify(self, key: str) -> None:
        await self.session.execute(text("SELECT pg_notify(:channel, :key)"), {"channel": CHANNEL, "key": key})

    @property
    def reads_after_refusal(self) -> bool:
        """Whether this unit of work can still read after a refused reservation: in autocommit mode on
        PostgreSQL the refused statement was a transaction of its own, and SQLite's transaction stays usable; in
        a PostgreSQL transaction the refusal aborted it (``db.hotpath``)."""
        return self.autocommit or self.db.dialect != "postgresql"

    @asynccontextmanager
    async def attempt(self) -> AsyncIterator[None]:
        """A part of this unit of work that may be refused and tried again: when it raises, what it wrote is
        undone and the unit of work goes on. In autocommit mode on PostgreSQL every statement is its own
        transaction and a refused reservation left nothing (nor is there a transaction for a savepoint);
        otherwise a savepoint (SQLite keeps the writes of a refused reservation that did match)."""
        if self.autocommit and self.db.dialect == "postgresql":
            yield
            return
        async with self.session.begin_nested():
            yield

    def after_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        self._after_commit.append(callback)


class UnitsOfWork(Protocol):
    """What opens a unit of work (``Runtime.uow``): for use cases that need more than one transaction, e.g. so
    that none is open across a provider's network call."""

    def __call__(self, *, readonly: bool = False, autocommit: bool = False) -> UnitOfWork: ...
