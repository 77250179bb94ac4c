"""A read of the units written since an earlier read (``db.statements.written_since``, PostgreSQL), applied to that
earlier read, equals a read of every unit — while writers keep transactions and subtransactions open across the
reads, commit them, roll them back, or roll back to a savepoint. Each comparison reads both in one repeatable-read
transaction, so both see one snapshot. The control: a horizon taken from the snapshot's ``xmax`` (the first id not
yet given out) instead of its ``xmin`` misses the writes of transactions that were running at the earlier read."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest
from sqlalchemy import ColumnElement, cast, func, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.db import statements
from piaowu.inventory import repository as repo
from piaowu.inventory import service as inventory
from tests.concurrency.ledger import in_uow

pytestmark = pytest.mark.postgres

WRITERS = 4
UNITS = 48


async def make_pool(rt, org: str) -> tuple[str, list[str]]:  # noqa: ANN001
    async def make(uow):  # noqa: ANN001, ANN202
        pool = await inventory.create_pool(uow, org, kind="session", capacity=UNITS)
        return pool, await inventory.create_units(uow, org, [f"S{i}" for i in range(UNITS)], pool_id=pool)

    return await in_uow(rt, make)


async def compare(rt, org: str, pool: str, view: dict[str, tuple[int, int]], horizon: str | None):  # noqa: ANN001, ANN201
    """The changes since ``horizon`` applied to ``view``, every unit's masks, and the new horizon — read in one
    repeatable-read transaction (one snapshot for both)."""
    async with AsyncSession(rt.db.read_engine) as session:
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        everything = await repo.pool_unit_mask_columns(session, org, pool)
        applied = dict(view)
        changed: list[str] = []
        if horizon is not None:
            cols = await repo.pool_unit_mask_columns(session, org, pool, changed_since=horizon)
            assert cols.horizon == everything.horizon  # one snapshot
            changed = list(cols.ids)
            applied.update(zip(cols.ids, zip(cols.occupied, cols.blocked, strict=True), strict=True))
        await session.commit()
    full = dict(zip(everything.ids, zip(everything.occupied, everything.blocked, strict=True), strict=True))
    return applied, full, everything.horizon, changed


async def random_walk(rt, org: str, pool: str, units: list[str], dsn: str, seed: int, steps: int) -> dict[str, int]:  # noqa: ANN001
    """Writers (each on its own connection and its own units, so none waits for another) begin, write, open and
    close savepoints, commit and roll back at random; between their steps a reader applies the changes since its
    last read and compares. → how many reads differed, and how many there were."""
    rng = random.Random(seed)
    conns = [await asyncpg.connect(dsn) for _ in range(WRITERS)]
    open_tx = [False] * WRITERS
    savepoints = [0] * WRITERS
    _, view, horizon, _ = await compare(rt, org, pool, {}, None)  # the first read: every unit
    differed = reads = 0
    try:
        for _ in range(steps):
            k = rng.randrange(WRITERS)
            conn, mine = conns[k], units[k::WRITERS]
            action = rng.random()
            if not open_tx[k]:
                await conn.execute("BEGIN")
                open_tx[k] = True
            elif action < 0.45:
                column = rng.choice(["occupied", "blocked"])
                await conn.execute(
                    f"UPDATE inventory_units SET {column} = {column} # 1 WHERE id = $1",  # noqa: S608
                    rng.choice(mine),
                )
            elif action < 0.55:
                savepoints[k] += 1
                await conn.execute(f"SAVEPOINT s{savepoints[k]}")
            elif action < 0.62 and savepoints[k]:
                await conn.execute(f"RELEASE SAVEPOINT s{savepoints[k]}")
                savepoints[k] -= 1
            elif action < 0.68 and savepoints[k]:
                await conn.execute(f"ROLLBACK TO SAVEPOINT s{savepoints[k]}")
                await conn.execute(f"RELEASE SAVEPOINT s{savepoints[k]}")
                savepoints[k] -= 1
            elif action < 0.8:
                await conn.execute("COMMIT" if rng.random() < 0.8 else "ROLLBACK")
                open_tx[k], savepoints[k] = False, 0
            if rng.random() < 0.35:
                applied, full, horizon_now, _ = await compare(rt, org, pool, view, horizon)
                reads += 1
                differed += applied != full
                view, horizon = full, horizon_now  # the next read starts from the truth either way
        for k, conn in enumerate(conns):
            if open_tx[k]:
                await conn.execute("COMMIT")
        applied, full, _, _ = await compare(rt, org, pool, view, horizon)
        differed += applied != full
        return {"differed": differed, "reads": reads + 1}
    finally:
        for conn in conns:
            await conn.close()


@pytest.fixture
async def pg_world(pg_url, tmp_path, clock):  # noqa: ANN001, ANN201
    from piaowu.runtime import build_runtime
    from tests.conftest import make_settings, make_tenant

    rt = build_runtime(make_settings(tmp_path, pg_url), clock=clock)
    try:
        org = (await make_tenant(rt)).organizer_id
        pool, units = await make_pool(rt, org)
        yield rt, org, pool, units, pg_url.replace("postgresql+asyncpg", "postgresql")
    finally:
        await rt.db.dispose()


async def test_changes_since_a_read_applied_to_it_equal_a_full_read(pg_world):
    rt, org, pool, units, dsn = pg_world
    walk = await random_walk(rt, org, pool, units, dsn, seed=8, steps=600)
    assert walk["reads"] > 150
    assert walk["differed"] == 0, walk


async def test_the_control_a_horizon_past_the_running_transactions_misses_their_writes(pg_world, monkeypatch):
    rt, org, pool, units, dsn = pg_world

    def from_xmax() -> ColumnElement[str]:
        return cast(func.xid(func.pg_snapshot_xmax(func.pg_current_snapshot())), postgresql.TEXT)

    monkeypatch.setattr(statements, "read_horizon", from_xmax)
    walk = await random_walk(rt, org, pool, units, dsn, seed=8, steps=600)
    assert walk["differed"] > 0, walk


async def wait_for_the_horizon_to_pass(conn: asyncpg.Connection, pool: str, seconds: float = 60) -> None:
    """Wait until no transaction of the cluster that was running when the pool's units were written still runs.

    A horizon is the oldest transaction running anywhere in the cluster, other databases too: while a test of another
    worker keeps a transaction open from before the pool was made, every read of changes returns the whole pool —
    correct, and what this test is not about."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await conn.fetchval(
        "SELECT bool_and(age(xmin) > age(xid(pg_snapshot_xmin(pg_current_snapshot()))))"
        " FROM inventory_units WHERE pool_id = $1",
        pool,
    ):
        assert asyncio.get_running_loop().time() < deadline, "a transaction of the cluster stayed open for a minute"
        await asyncio.sleep(0.05)


async def test_a_read_of_changes_returns_the_units_written_not_the_pool(pg_world):
    """After a quiet moment the read returns the unit written since, and not the pool's other units (a unit written
    just before the last read may come again: a transaction of another database running then holds the horizon
    back — the tests of other workers run beside this one)."""
    rt, org, pool, units, dsn = pg_world
    conn = await asyncpg.connect(dsn)
    try:
        await wait_for_the_horizon_to_pass(conn, pool)
        await conn.execute("UPDATE inventory_units SET occupied = 1 WHERE id = $1", units[3])
        _, view, horizon, _ = await compare(rt, org, pool, {}, None)
        await conn.execute("UPDATE inventory_units SET blocked = blocked # 1 WHERE id = $1", units[30])
        applied, full, _, changed = await compare(rt, org, pool, view, horizon)
    finally:
        await conn.close()
    assert applied == full and full[units[30]] != view[units[30]]
    assert units[30] in changed and set(changed) <= {units[3], units[30]}


async def test_a_horizon_is_a_transaction_id(pg_world):
    rt, org, pool, _, _ = pg_world
    async with rt.uow(readonly=True) as uow:
        cols = await inventory.pool_unit_mask_columns(uow, org, pool)
        assert cols.horizon is not None and cols.horizon.isdigit()
        with pytest.raises(ValueError, match="not a read horizon"):
            await inventory.pool_unit_mask_columns(uow, org, pool, changed_since="1; DROP TABLE x")
