"""Statements whose SQL differs between PostgreSQL and SQLite (kept here, out of business code)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.db import hotpath


async def insert_ignore(session: AsyncSession, table: Table, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING. True when the row was inserted, False when it already existed.

    Unlike catching IntegrityError, this does not abort a PostgreSQL transaction, so the caller can go on.
    """
    stmt = _insert_ignore(session.get_bind().dialect.name, table, tuple(values))
    # Prebuilt per (table, columns) and run on the Core path in one greenlet switch (``hotpath.execute``): the
    # sandbox opens a trade so on every online payment, and building the insert per call cost more than sending it.
    result = await hotpath.execute(session, stmt, values)
    return result.rowcount == 1


@lru_cache(maxsize=64)
def _insert_ignore(dialect: str, table: Table, columns: tuple[str, ...]) -> Any:
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {c: bindparam(c, type_=table.c[c].type) for c in columns}
    return builder(table).values(values).on_conflict_do_nothing()


# From this many rows inserted at once, PostgreSQL's statistics of the table are taken again (``analyze_after_bulk``).
ANALYZE_FROM = 1_000


async def analyze_after_bulk(session: AsyncSession, table: Table, rows: int) -> None:
    """After ``rows`` rows were inserted into ``table`` at once (a seat map assigned to a session: a stadium's
    80,000 units and session seats), take PostgreSQL's statistics of the table in the same transaction. Until
    autovacuum's next analyze (a minute or more later, longer on a busy server) the planner does not know them:
    for a freshly assigned stadium the read of the seats in use (``inventory.pool_unit_masks(in_use=1)``, each
    worker twice a second) walked every unit of the pool (1,800 pages, 90 ms) instead of the partial index of the
    units in use, and a worker's first read of the seats withheld from a channel made 80,192 primary-key lookups
    (0.5–0.8 s) instead of one scan. ``ANALYZE`` reads a bounded sample, not the table, and locks out only other
    analyzes and vacuums of the table until the transaction ends. Nothing on SQLite (its planner has no such
    statistics unless asked, and its tables are small)."""
    if rows >= ANALYZE_FROM and session.get_bind().dialect.name == "postgresql":
        await session.execute(text(f'ANALYZE "{table.name}"'))
