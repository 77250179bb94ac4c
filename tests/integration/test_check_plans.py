"""The reservation's checks (``db.hotpath.RowCheck``) look their row up by its key, also on tables without
statistics: with ``organizer_id = …`` in the condition, PostgreSQL's planner took the organizer's index when no
statistics were there yet (a catalog just created, autovacuum not run or off) and tested every row of the
organizer on each order — ~170 rows per check for the spread bench's 200 sessions (docs/benchmarks.md,
"Spread: CPU per order (issue 7, spreadcpu)")."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import Integer, String, bindparam, exists, select, update
from sqlalchemy.dialects import postgresql

from piaowu.accounts.models import ApiToken
from piaowu.db import hotpath
from piaowu.db.hotpath import RowCheck
from piaowu.inventory.models import Pool
from piaowu.inventory.strategies import SEATLESS_TAKE

pytestmark = pytest.mark.postgres

TOKENS = 200
ORG = "01org000000000000000000000"


def _compiled(condition) -> tuple[str, list[str]]:  # noqa: ANN001
    compiled = select(condition).compile(dialect=postgresql.asyncpg.dialect())
    return compiled.string, list(compiled.positiontup or ())


async def _plan(conn: asyncpg.Connection, condition, values: dict[str, object]) -> str:  # noqa: ANN001
    sql, names = _compiled(condition)
    rows = await conn.fetch("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, *[values[n] for n in names])
    return "\n".join(r[0] for r in rows)


async def _organizer(conn: asyncpg.Connection, now: datetime) -> None:
    """The organizer ``ORG``, as a bare row (these tests build their tables' contents by hand)."""
    await conn.execute(
        "INSERT INTO organizers (id, slug, name, timezone, currency, signing_key_encrypted, public_key, created_at)"
        " VALUES ($1, 'o', 'O', 'Asia/Shanghai', 'CNY', 'x', 'x', $2)",
        ORG,
        now,
    )


async def test_a_check_looks_its_row_up_by_key_without_statistics(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        now = datetime.now(UTC)
        # This test's own database: no autovacuum may analyze the table under the test (the control needs it bare).
        await conn.execute("ALTER TABLE api_tokens SET (autovacuum_enabled = false)")
        await _organizer(conn, now)
        await conn.executemany(
            "INSERT INTO api_tokens (id, organizer_id, name, role, prefix, token_hash, created_at)"
            " VALUES ($1, $2, 't', 'sales', $3, 'h', $4)",
            [(f"01tok{i:021d}", ORG, f"p{i}", now) for i in range(TOKENS)],
        )
        # No ANALYZE: the fresh database's tables have no statistics, as in the bench (the server's autovacuum
        # is off) or in production before autovacuum's first analyze of a new catalog.
        assert await conn.fetchval("SELECT count(*) FROM pg_stats WHERE tablename = 'api_tokens'") == 0
        last = f"01tok{TOKENS - 1:021d}"
        table = ApiToken.__table__
        check = RowCheck("api_token", table, last, (("revoked_at", None),))
        held = hotpath._held([check], bindparam("org", type_=String()))[0]
        plan = await _plan(conn, held, {"org": ORG, "c0_key": last, "c0_x_revoked_at": None})
        assert "pk_api_tokens" in plan and "Rows Removed by Filter" not in plan, plan

        # Control: the same lookup with ``organizer_id = …``, as the checks were written before, walks the
        # organizer's index and filters its rows — what the test above would catch.
        naive = exists(
            select(table.c.id).where(
                table.c.id == bindparam("key", type_=String()), table.c.organizer_id == bindparam("org", type_=String())
            )
        )
        naive_plan = await _plan(conn, naive, {"org": ORG, "key": last})
        assert "ix_api_tokens_organizer_id" in naive_plan and "Rows Removed by Filter" in naive_plan, naive_plan
    finally:
        await conn.close()


POOLS = 200


async def test_a_guarded_write_updates_its_row_by_key_without_statistics(pg_url: str) -> None:
    """The guarded update of a reservation (a pool's take) finds its row by key too: with ``organizer_id = …`` the
    spread bench's generic plan took the organizer's index, one scan of the organizer's ~200 pools per order
    (pg_stat_user_indexes in the bench's database; docs/benchmarks.md, "PostgreSQL's part of an order (issue 7,
    pgfk)")."""
    conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        now = datetime.now(UTC)
        await conn.execute("ALTER TABLE inventory_pools SET (autovacuum_enabled = false)")
        await _organizer(conn, now)
        await conn.executemany(
            "INSERT INTO inventory_pools (id, organizer_id, kind, label, capacity, held, sold, allowance, created_at)"
            " VALUES ($1, $2, 'session', '', 10, 0, 0, 0, $3)",
            [(f"01pool{i:020d}", ORG, now) for i in range(POOLS)],
        )
        assert await conn.fetchval("SELECT count(*) FROM pg_stats WHERE tablename = 'inventory_pools'") == 0
        # The plan a prepared statement keeps after its fifth execution, as the server's connections do.
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        last = f"01pool{POOLS - 1:020d}"
        compiled = hotpath._compile(postgresql.asyncpg.dialect(), [SEATLESS_TAKE], [], [])
        values = {"org": ORG, "key_0": last, "n_0": 1}
        plan = await _explained(conn, compiled.sql, [values[n] for n in compiled.names])
        assert "pk_inventory_pools" in plan and "ix_inventory_pools_organizer_id" not in plan, plan

        # Control: the same update with ``organizer_id = …``, as it was written before, walks the organizer's index.
        pools = Pool.__table__
        naive = (
            update(pools)
            .where(
                pools.c.id == bindparam("key", type_=String()), pools.c.organizer_id == bindparam("org", type_=String())
            )
            .values(held=pools.c.held + bindparam("n", type_=Integer()))
        ).compile(dialect=postgresql.asyncpg.dialect())
        naive_plan = await _explained(
            conn, naive.string, [{"org": ORG, "key": last, "n": 1}[n] for n in naive.positiontup]
        )
        assert "ix_inventory_pools_organizer_id" in naive_plan and "Rows Removed by Filter" in naive_plan, naive_plan
    finally:
        await conn.close()


async def _explained(conn: asyncpg.Connection, sql: str, args: list[object]) -> str:
    """The plan of ``sql`` run once, its writes undone."""
    tx = conn.transaction()
    await tx.start()
    try:
        rows = await conn.fetch("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, *args)
    finally:
        await tx.rollback()
    return "\n".join(r[0] for r in rows)
