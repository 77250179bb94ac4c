"""Engines for PostgreSQL (asyncpg) and SQLite (aiosqlite).

SQLite: every write transaction must start with ``BEGIN IMMEDIATE``. A plain ``BEGIN`` followed by a read and
then a write fails at once with "database is locked" whatever the busy timeout (see DESIGN.md, measured), so
the write engine turns off the driver's own transaction handling and emits ``BEGIN IMMEDIATE`` itself. Reads
use a second engine with deferred ``BEGIN`` so that pages do not queue behind writers (WAL lets them run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from piaowu.db.driver import AUTOCOMMIT


@dataclass
class Database:
    url: str
    write_engine: AsyncEngine
    read_engine: AsyncEngine
    write_sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]
    # PostgreSQL: every statement its own transaction, for use cases that are one atomic statement (the
    # reservation hot path, see db/hotpath.py). SQLite: the ordinary write sessions.
    autocommit_sessions: async_sessionmaker[AsyncSession]
    # Reads that need no snapshot across their statements (a token check, a status read): PostgreSQL runs each
    # statement on its own, with no BEGIN … ROLLBACK around it — at READ COMMITTED each statement sees what was
    # committed when it began either way. SQLite: the ordinary read sessions.
    single_reads: async_sessionmaker[AsyncSession] | None = None

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


# How long a write waits for its turn at the single SQLite write connection (see _sqlite_engine). Requests
# already queued this long behind a pool of connections before; the turn is now first come, first served.
SQLITE_WRITE_QUEUE_SECONDS = 30.0


def _sqlite_engine(url: str, *, immediate: bool, busy_timeout_ms: int) -> AsyncEngine:
    if immediate:
        # SQLite lets one writer in at a time whatever the pool holds. With several pooled connections each
        # waiting writer polls the lock with SQLite's busy handler, which sleeps up to 100 ms between tries and
        # is not first come, first served: under a burst (200 buyers at once) one writer can lose every poll
        # for the whole busy timeout and get "database is locked" while later ones pass. One connection makes
        # the pool's queue the line, in arrival order; the busy timeout still covers other processes.
        engine = create_async_engine(
            url,
            connect_args={"timeout": busy_timeout_ms / 1000},
            pool_size=1,
            max_overflow=0,
            pool_timeout=SQLITE_WRITE_QUEUE_SECONDS,
        )
    else:
        engine = create_async_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def create_database(url: str, *, lock_timeout_seconds: float = 5.0, pool_size: int = 4) -> Database:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        busy = int(lock_timeout_seconds * 1000)
        write = _sqlite_engine(url, immediate=True, busy_timeout_ms=busy)
        read = _sqlite_engine(url, immediate=False, busy_timeout_ms=busy)
    else:
        # lock_timeout as a connection setting: no extra round trip per transaction. A fixed pool, no overflow:
        # overflow connections are closed as soon as they are returned, so a sale hovering around the pool's size
        # opened and closed one per busy request (a fork on the server, TLS and setup here). Connections open
        # lazily and stay, up to ``pool_size``; past that a request waits its turn for one.
        write = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            connect_args={
                "server_settings": {
                    "lock_timeout": str(int(lock_timeout_seconds * 1000)),
                    "timezone": "UTC",
                }
            },
        )
        read = write
    autocommit = write.execution_options(isolation_level="AUTOCOMMIT") if write.dialect.name == "postgresql" else write
    return Database(
        url=url,
        write_engine=write,
        read_engine=read,
        write_sessions=async_sessionmaker(write, expire_on_commit=False, autoflush=False),
        read_sessions=async_sessionmaker(read, expire_on_commit=False, autoflush=False),
        autocommit_sessions=async_sessionmaker(
            autocommit,
            expire_on_commit=False,
            autoflush=False,
            # Its one-statement writes may run on the driver's connection (db/driver.py).
            info={AUTOCOMMIT: True} if write.dialect.name == "postgresql" else None,
        ),
        single_reads=async_sessionmaker(
            autocommit if write.dialect.name == "postgresql" else read, expire_on_commit=False, autoflush=False
        ),
    )


def is_lock_timeout(exc: BaseException) -> bool:
    """True for "could not get the lock in time" on either database (maps to a retryable 503). A deadlock
    PostgreSQL broke is the same for the caller: its transaction was rolled back whole, retrying is safe
    (writers take rows in a fixed order so it should not happen; if it does, it is not a 500)."""
    text = f"{type(exc).__name__} {exc}".lower()
    return (
        "locknotavailable" in text
        or "lock timeout" in text
        or "canceling statement due to lock timeout" in text
        or "database is locked" in text
        or "deadlock detected" in text
    )


def is_overloaded(exc: BaseException) -> bool:
    """True when the database could not be reached for capacity, not for a fault of the request: PostgreSQL's
    connection slots are full ("too many clients", SQLSTATE 53300), it is starting up or shutting down, the
    connection was refused, or our own pool had no connection to lend in time. Nothing was written; the same
    request may succeed a moment later, so it is a retryable 503 like a lock timeout, never a 500."""
    if isinstance(exc, ConnectionRefusedError | PoolTimeout):
        return True
    text = f"{type(exc).__name__} {exc}".lower()
    return (
        "too many clients" in text
        or "toomanyconnections" in text
        or "remaining connection slots are reserved" in text
        or "the database system is starting up" in text
        or "the database system is shutting down" in text
        or "cannotconnectnow" in text
        or "connection refused" in text
        or "queuepool limit" in text
    )


def is_busy(exc: BaseException) -> bool:
    """A lock not granted in time or a database at capacity: retryable, answered 503 with Retry-After."""
    return is_lock_timeout(exc) or is_overloaded(exc)


def is_invalid_value(exc: BaseException) -> bool:
    """True when the database refused a value the schema let through: text with NUL or too long, a number out
    of range (SQLSTATE class 22 "data exception"; SQLite's driver raises OverflowError for integers over 64 bits).
    The statement failed, so the transaction is rolled back and nothing was written."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OverflowError):
            return True
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state.startswith("22"):
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False
