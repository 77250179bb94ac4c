"""SQLite writers of one process take turns in arrival order (db/engine.py).

Forty writers arrive at once, each holding the write lock for 40 ms: 1.6 s of work behind a busy timeout of
0.4 s. In a fair queue every one of them gets its turn. When each writer instead polls the lock through SQLite's
busy handler (several pooled connections, the engine's former shape, rebuilt here as the control), some give up
with "database is locked" although the database was never stuck — the 503 that CI saw in the 200-buyer seat race.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from piaowu.db.engine import create_database, is_busy

WRITERS = 40
HOLD_SECONDS = 0.04
BUSY_TIMEOUT_SECONDS = 0.4


async def _writers(engine: AsyncEngine) -> list[BaseException | None]:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS turns (n INTEGER)"))

    async def write(n: int) -> BaseException | None:
        try:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO turns VALUES (:n)"), {"n": n})
                await asyncio.sleep(HOLD_SECONDS)  # the rest of a use case's statements, under the write lock
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test reads
            return exc
        return None

    return await asyncio.gather(*(write(n) for n in range(WRITERS)))


async def test_every_writer_gets_its_turn_past_the_busy_timeout(tmp_path: Path) -> None:
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}", lock_timeout_seconds=BUSY_TIMEOUT_SECONDS)
    try:
        outcomes = await _writers(db.write_engine)
        async with db.read_engine.connect() as conn:
            written = (await conn.execute(text("SELECT count(*) FROM turns"))).scalar_one()
    finally:
        await db.dispose()
    assert [o for o in outcomes if o is not None] == []
    assert written == WRITERS


async def test_control_writers_polling_the_busy_handler_give_up(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'polling.db'}"
    engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS}, pool_size=16, max_overflow=16)

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn, _record) -> None:  # noqa: ANN001
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn) -> None:  # noqa: ANN001
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        outcomes = await _writers(engine)
    finally:
        await engine.dispose()
    refused = [o for o in outcomes if o is not None]
    assert refused, "every polling writer got through: this control cannot show the queue matters"
    assert all(is_busy(o) for o in refused), refused[:3]
