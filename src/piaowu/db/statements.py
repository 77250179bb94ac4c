"""Statements whose SQL differs between PostgreSQL and SQLite (kept here, out of business code)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, cast, func, literal_column, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import UserDefinedType

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


# --- What changed since an earlier read (PostgreSQL) ----------------------------------------------------------------
#
# A read that selects ``read_horizon()`` learns the oldest transaction its snapshot did not see as finished (the
# snapshot's xmin). A later read with ``written_since(table, that horizon)`` finds every row written by a transaction
# the earlier read did not see: such a transaction was running at that snapshot or began after it, so its id — or
# the id of a subtransaction of it, which is larger still — is at least that xmin. Rows written by transactions that
# finished just before the snapshot may come too (ids between its xmin and xmax): harmless, their values are current.
# Measured in ``age``, the distance back from the present transaction id, so that 32-bit ids compare across
# wraparound; a horizon older than 2^31 transactions would not compare, and a caller reads everything again long
# before (``seating.live.FULL_READ_SECONDS``). PostgreSQL keeps a row's original xmin when it freezes or rewrites it
# (since 9.4), so ``VACUUM FREEZE`` and ``VACUUM FULL`` do not hide a change. A deleted row is not found: a caller
# that must see deletions reads everything again.


class _Xid(UserDefinedType[str]):
    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "xid"


def read_horizon() -> ColumnElement[str]:
    """The horizon of the statement that selects this (PostgreSQL only): pass it to a later ``written_since``."""
    return cast(func.xid(func.pg_snapshot_xmin(func.pg_current_snapshot())), postgresql.TEXT)


def written_since(table: Table, horizon: str) -> ColumnElement[bool]:
    """Whether a row of ``table`` may have been written since the read whose ``read_horizon()`` was ``horizon``
    (PostgreSQL only): true for every row that was, and for a few that were not."""
    if not horizon.isdigit():
        raise ValueError(f"not a read horizon: {horizon!r}")
    since = cast(bindparam("horizon", horizon, type_=postgresql.TEXT), _Xid())
    return func.age(literal_column(f"{table.name}.xmin")) <= func.age(since)
