"""The hot statements on the driver's connection (db/driver.py): same answers, same errors as through
SQLAlchemy, the connection given back (or dropped when it broke), and the line for a connection first come,
first served."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.util import greenlet_spawn

from piaowu.db import driver
from piaowu.db.engine import create_database, is_busy, is_invalid_value

pytestmark = pytest.mark.postgres


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _through_sqlalchemy(db, sql: str, params: tuple) -> BaseException:  # noqa: ANN001
    async with db.autocommit_sessions() as s:
        conn = await s.connection()
        try:
            await conn.exec_driver_sql(sql, params)
        except Exception as exc:  # noqa: BLE001
            return exc
    raise AssertionError("no error")


async def _on_driver(db, sql: str, params: tuple) -> BaseException:  # noqa: ANN001
    async with db.autocommit_sessions() as s:
        try:
            await driver.fetchrow(s, sql, params)
        except Exception as exc:  # noqa: BLE001
            return exc
    raise AssertionError("no error")


async def test_only_autocommit_sessions_on_postgresql_use_it(pg_url: str, tmp_path: Path) -> None:
    db = create_database(pg_url, pool_size=2)
    lite = create_database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with db.autocommit_sessions() as s:
            assert driver.usable(s)
            row = await driver.fetchrow(s, "select $1::int + 1, $2::text", (41, "x"))
            assert (row[0], row[1]) == (42, "x")
            assert not s.in_transaction()
        assert db.write_engine.pool.checkedout() == 0  # given back at once
        async with db.write_sessions() as s:
            assert not driver.usable(s)  # in a transaction: BEGIN goes through SQLAlchemy
        async with lite.autocommit_sessions() as s:
            assert not driver.usable(s)
    finally:
        await db.dispose()
        await lite.dispose()


async def test_a_session_holding_a_connection_lends_it(pg_url: str) -> None:
    db = create_database(pg_url, pool_size=1)  # a second connection would wait for ever (the pool's timeout)
    try:
        async with db.autocommit_sessions() as s:
            pid = (await (await s.connection()).exec_driver_sql("select pg_backend_pid()")).scalar()
            row = await driver.fetchrow(s, "select pg_backend_pid()", ())
            assert row[0] == pid
    finally:
        await db.dispose()


async def test_errors_are_those_sqlalchemy_raises(pg_url: str) -> None:
    db = create_database(pg_url, pool_size=2, lock_timeout_seconds=0.2)
    admin = await asyncpg.connect(_asyncpg_dsn(pg_url))
    try:
        await admin.execute("create table if not exists drv_t (id int primary key)")
        await admin.execute("insert into drv_t values (1) on conflict do nothing")
        cases = {
            "unique": ("insert into drv_t values ($1::int)", (1,)),
            "data": ("select $1::text::int", ("piaowu-refused:0,",)),
            "lock": ("update drv_t set id = id where id = $1::int", (1,)),
        }
        locker = await asyncpg.connect(_asyncpg_dsn(pg_url))
        try:
            tx = locker.transaction()
            await tx.start()
            await locker.execute("select * from drv_t where id = 1 for update")
            for name, (sql, params) in cases.items():
                mine, theirs = await _on_driver(db, sql, params), await _through_sqlalchemy(db, sql, params)
                assert type(mine) is type(theirs), name
                assert isinstance(mine, DBAPIError)
                assert type(mine.orig) is type(theirs.orig), name
                assert getattr(mine.orig, "sqlstate", None) == getattr(theirs.orig, "sqlstate", None), name
                assert str(mine.orig) == str(theirs.orig), name
            await tx.rollback()
        finally:
            await locker.close()
        assert isinstance(await _on_driver(db, *cases["unique"]), IntegrityError)
        assert is_invalid_value(await _on_driver(db, *cases["data"]))
        assert db.write_engine.pool.checkedout() == 0
    finally:
        await admin.execute("drop table if exists drv_t")
        await admin.close()
        await db.dispose()
    # The lock timeout, on its own (the lock released above): busy, a retryable 503.
    db = create_database(pg_url, pool_size=2, lock_timeout_seconds=0.2)
    admin = await asyncpg.connect(_asyncpg_dsn(pg_url))
    try:
        await admin.execute("create table drv_l (id int primary key)")
        await admin.execute("insert into drv_l values (1)")
        tx = admin.transaction()
        await tx.start()
        await admin.execute("select * from drv_l where id = 1 for update")
        exc = await _on_driver(db, "update drv_l set id = id where id = $1::int", (1,))
        assert is_busy(exc), exc
        await tx.rollback()
    finally:
        await admin.execute("drop table if exists drv_l")
        await admin.close()
        await db.dispose()


async def test_a_broken_connection_is_not_lent_again(pg_url: str) -> None:
    db = create_database(pg_url, pool_size=1)
    admin = await asyncpg.connect(_asyncpg_dsn(pg_url))
    try:
        async with db.autocommit_sessions() as s:
            pid = (await driver.fetchrow(s, "select pg_backend_pid()", ()))[0]
        await admin.execute("select pg_terminate_backend($1)", pid)
        async with db.autocommit_sessions() as s:
            with pytest.raises(DBAPIError) as broke:
                await driver.fetchrow(s, "select 1", ())
        assert broke.value.connection_invalidated
        async with db.autocommit_sessions() as s:  # a new connection, not the dead one
            assert (await driver.fetchrow(s, "select pg_backend_pid()", ()))[0] != pid
        assert db.write_engine.pool.checkedout() == 0
    finally:
        await admin.close()
        await db.dispose()


async def _arrivals(db, use_gate: bool) -> list[str]:  # noqa: ANN001
    """One connection. A holds it; W waits for it; then, in the same turn of the event loop in which A gives it
    back, a newcomer N asks for it. First come, first served: W, then N."""
    served: list[str] = []
    engine = db.write_engine  # the autocommit sessions' engine shares its pool
    held = asyncio.Event()
    release = asyncio.Event()

    async def ask(name: str) -> None:
        if use_gate:
            async with db.autocommit_sessions() as s:
                await driver.fetchrow(s, "select 1", ())
                served.append(name)
            return
        raw = await engine.raw_connection()
        served.append(name)
        await greenlet_spawn(raw.close)

    async def holder() -> None:
        if use_gate:
            # Hold the line's one place until told, as a slow statement would.
            gate = driver._gate(engine.pool)
            await driver._enter(gate, engine.pool)
            held.set()
            await release.wait()
            newcomer = asyncio.create_task(ask("N"))  # its first step runs before W's wake-up: in between
            gate.release()
            await newcomer
            return
        raw = await engine.raw_connection()
        held.set()
        await release.wait()
        newcomer = asyncio.create_task(ask("N"))
        await greenlet_spawn(raw.close)
        await newcomer

    a = asyncio.create_task(holder())
    await held.wait()
    w = asyncio.create_task(ask("W"))
    for _ in range(20):  # W is waiting in the line
        await asyncio.sleep(0)
    release.set()
    await asyncio.gather(a, w)
    return served


async def test_the_line_for_a_connection_is_first_come_first_served(pg_url: str) -> None:
    db = create_database(pg_url, pool_size=1)
    try:
        assert await _arrivals(db, use_gate=True) == ["W", "N"]
        # Control: the pool's own queue lets the newcomer take the connection W was woken for.
        assert await _arrivals(db, use_gate=False) == ["N", "W"]
    finally:
        await db.dispose()


async def test_a_full_line_is_refused_as_the_pool_refuses(pg_url: str) -> None:
    db = create_database(pg_url, pool_size=1)
    engine = db.write_engine
    engine.pool._timeout = 0.3  # the pool's own setting (pool_timeout), short for the test
    try:
        gate = driver._gate(engine.pool)
        await driver._enter(gate, engine.pool)
        async with db.autocommit_sessions() as s:
            with pytest.raises(PoolTimeout) as full:
                await driver.fetchrow(s, "select 1", ())
        assert is_busy(full.value)
        gate.release()
        async with db.autocommit_sessions() as s:
            assert (await driver.fetchrow(s, "select 1", ()))[0] == 1
    finally:
        await db.dispose()
