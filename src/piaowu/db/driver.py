"""The few hottest statements run on the driver's own connection (asyncpg), past SQLAlchemy's execution layer.

Placing an order is one statement in autocommit mode (``db.hotpath``). Through an ``AsyncSession`` that one
statement also paid for the session's transaction bookkeeping (autobegin, connection-for-bind, commit), the
engine's execution context and cursor, the asyncpg adapter's cursor and two greenlet switches: py-spy put that
layer at ~15% of a created order's server CPU (docs/benchmarks.md, "Create path (issue 7, createlean)"). Here
the statement is sent with asyncpg's ``fetchrow`` on a connection of the same pool — the same SQL, the same
parameters, already processed by the columns' bind processors, on a connection the engine set up (its codecs,
``lock_timeout``, time zone) — and a driver error is raised as SQLAlchemy would have raised it
(``sqlalchemy.exc.DBAPIError`` and its subclasses, wrapping the DB-API error that wraps asyncpg's), so the
API's error handlers answer it exactly as before (a lock timeout or a full database: 503; a refused value: 422).

Only for a session in autocommit mode on PostgreSQL: in a transaction, SQLAlchemy's adapter sends ``BEGIN``
lazily with the first statement, which must go through it. A session that already holds a connection lends it
(one connection per request, as before); otherwise one is borrowed from the engine's pool for this statement
only and given back at once. Not for SQLite (its write transaction is the session's).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import greenlet_spawn

# A session of ``Database.autocommit_sessions`` carries this in its ``info`` (PostgreSQL only).
AUTOCOMMIT = "piaowu.autocommit"


def usable(session: AsyncSession) -> bool:
    """Whether ``fetchrow`` may run on ``session``: autocommit on PostgreSQL, no nested transaction."""
    return bool(session.info.get(AUTOCOMMIT)) and not session.in_nested_transaction()


async def fetchrow(session: AsyncSession, sql: str, params: Sequence[Any]) -> Any:
    """Run ``sql`` (SQLAlchemy-compiled for asyncpg: ``$n`` placeholders) with ``params`` on the driver's
    connection and → its first row (an ``asyncpg.Record``) or None. The session's own connection when it
    holds one, else one of the pool's for this statement only. Errors: as ``Connection.exec_driver_sql``."""
    if session.in_transaction():  # it holds a connection already (autocommit: no transaction is open on it)
        conn = await session.connection()
        raw = await conn.get_raw_connection()
        return await _run(raw, session, sql, params)
    engine = session.bind
    gate = _gate(engine.pool)  # type: ignore[union-attr]
    await _enter(gate, engine.pool)  # type: ignore[union-attr]
    try:
        raw = await engine.raw_connection()  # type: ignore[union-attr]
        try:
            return await _run(raw, session, sql, params)
        finally:
            # The pool's check-in runs SQLAlchemy's reset (a rollback: nothing to do on an autocommit connection)
            # in a greenlet, like every other check-in.
            await greenlet_spawn(raw.close)
    finally:
        gate.release()


# The pool's own queue is not first come, first served: a connection given back wakes the first waiter, but a
# request arriving before that waiter runs takes it, and the waiter queues again at the back (asyncio.Queue).
# Under a sale's load that made the slowest orders wait ~4× the mean for a connection (p99 ~1.7 s against a
# 0.4 s mean, measured: docs/benchmarks.md). The requests of this path line up in front of it instead, in a
# semaphore of the pool's size (asyncio's is FIFO and never barges), one per pool and event loop.
_GATES: weakref.WeakKeyDictionary[Any, tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _gate(pool: Any) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    known = _GATES.get(pool)
    if known is None or known[0] is not loop:
        known = (loop, asyncio.Semaphore(max(1, pool.size())))
        _GATES[pool] = known
    return known[1]


async def _enter(gate: asyncio.Semaphore, pool: Any) -> None:
    """Take a place in the line; waited at most the pool's own timeout, then refused as the pool refuses
    (``sqlalchemy.exc.TimeoutError``: a retryable 503)."""
    if not gate.locked():
        await gate.acquire()
        return
    try:
        async with asyncio.timeout(pool.timeout()):
            await gate.acquire()
    except TimeoutError:
        raise PoolTimeout(f"QueuePool limit of size {pool.size()} reached, connection timed out") from None


async def _run(raw: Any, session: AsyncSession, sql: str, params: Sequence[Any]) -> Any:
    driver = raw.driver_connection
    try:
        return await driver.fetchrow(sql, *params)
    except Exception as exc:  # noqa: BLE001 - raised again as SQLAlchemy raises it
        raise _translated(raw, session, sql, params, exc) from exc


def _translated(raw: Any, session: AsyncSession, sql: str, params: Sequence[Any], exc: Exception) -> BaseException:
    """``exc`` as ``Connection.exec_driver_sql`` would have raised it: the dialect's DB-API error (asyncpg's
    error mapped by the dialect's own adapter) wrapped in ``sqlalchemy.exc.DBAPIError``; a connection that broke
    is invalidated, so the pool does not lend it again."""
    dialect = session.bind.dialect  # type: ignore[union-attr]
    dbapi = dialect.loaded_dbapi
    try:
        # The adapter's own translation (asyncpg → the DB-API error classes SQLAlchemy knows), as its cursor does.
        type(raw.dbapi_connection)._handle_exception_no_connection(dbapi, exc)
    except Exception as err:  # noqa: BLE001 - the translated error, or ``exc`` itself when it has no mapping
        dbapi_error = err
    if not isinstance(dbapi_error, dbapi.Error):
        return exc  # not a database error (a cancellation, a programming error of ours): as it is
    invalidated = dialect.is_disconnect(dbapi_error, raw.dbapi_connection, None)
    if invalidated:
        raw.invalidate(dbapi_error)
    return DBAPIError.instance(
        sql, tuple(params), dbapi_error, dbapi.Error, dialect=dialect, connection_invalidated=invalidated
    )
