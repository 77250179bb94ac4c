"""The reservation hot path: guarded pool updates and the rows that depend on them, in as few round trips as
the database allows.

A flash sale is limited by how long the hot pool row stays locked (DESIGN.md, "Measured on this platform"):
the lock is taken by the first conditional update and held until COMMIT. On PostgreSQL we therefore send the
updates *and* every insert of the reservation (hold, hold items, order, lines, audit…) as ONE statement — a
chain of data-modifying CTEs whose inserts only happen when every update matched — so the lock is held for
that statement and the COMMIT only. On SQLite the write transaction already holds the database lock
(``BEGIN IMMEDIATE``) and round trips are in-process, so the statements simply run in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    Table,
    and_,
    bindparam,
    case,
    cast,
    exists,
    insert,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

Rows = Sequence[tuple[Table, Sequence[dict[str, Any]]]]


async def guarded_take_and_insert(
    session: AsyncSession, pools: Table, organizer_id: str, takes: Sequence[tuple[str, int]], rows: Rows
) -> set[str]:
    """Add ``n`` to ``held`` of each pool where ``held + sold + n <= capacity + allowance`` and, only when every
    pool matched, insert ``rows``. → the ids of the pools that were updated (all of them on success).

    On PostgreSQL the statement is atomic by itself: when some pool did not match, it fails as a whole (a
    deliberate division by zero in its last line) and nothing of it remains, so it can run in autocommit mode
    as its own transaction (``UnitOfWork(autocommit=True)``): the hot row is then locked only while the
    statement runs, not until a COMMIT that waits for the event loop to come back to this request. Inside a
    transaction the failure aborts it (callers that go on afterwards use a savepoint). On SQLite, updates that
    did match stay in the transaction, which the caller rolls back (it raises SoldOut).
    """
    if session.get_bind().dialect.name == "postgresql":
        return await _one_statement(session, pools, organizer_id, takes, rows)
    taken: set[str] = set()
    for pool_id, n in takes:
        res = await session.execute(_guarded_update(pools, organizer_id, pool_id, n))
        if res.rowcount != 1:
            return taken
        taken.add(pool_id)
    await insert_rows(session, rows)
    return taken


async def insert_rows(session: AsyncSession, rows: Rows) -> None:
    for table, dicts in rows:
        if dicts:
            await session.execute(insert(table), list(dicts))


def _guarded_update(pools: Table, organizer_id: str, pool_id: str, n: int):  # noqa: ANN202
    c = pools.c
    return (
        update(pools)
        .where(c.id == pool_id, c.organizer_id == organizer_id, c.held + c.sold + n <= c.capacity + c.allowance)
        .values(held=c.held + n)
    )


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the bound parameters in positional order
    processors: dict[str, Callable[[Any], Any]]  # bind processors of the columns' types (UTC, JSON…)


# One compiled statement per shape: (the pools' table, how many pools, and per inserted table its columns and
# row count). A sale has few shapes (1 or 2 pools, N tickets), so this stays small; it is bounded anyway.
_SHAPES: dict[tuple[Any, ...], _Compiled] = {}
_MAX_SHAPES = 512


async def _one_statement(
    session: AsyncSession, pools: Table, organizer_id: str, takes: Sequence[tuple[str, int]], rows: Rows
) -> set[str]:
    """Built and compiled once per shape with placeholders, then executed with values only: building the
    statement with SQLAlchemy Core on every call (a cast literal per column of every row, and a cache key
    walked over all of them) cost ~40% of a create-order request's CPU (bench/flash_sale.py, py-spy)."""
    present = [(table, dicts) for table, dicts in rows if dicts]
    shape = (pools.name, len(takes), tuple((t.name, tuple(d[0]), len(d)) for t, d in present))
    conn = await session.connection()
    compiled = _SHAPES.get(shape)
    if compiled is None:
        compiled = _compile(conn.dialect, pools, len(takes), [(t, list(d[0]), len(d)) for t, d in present])
        if len(_SHAPES) < _MAX_SHAPES:
            _SHAPES[shape] = compiled
    values: dict[str, Any] = {"org": organizer_id}
    for i, (pool_id, n) in enumerate(takes):
        values[f"pool_{i}"], values[f"n_{i}"] = pool_id, n
    for j, (_, dicts) in enumerate(present):
        for k, d in enumerate(dicts):
            for col, v in d.items():
                values[f"v{j}_{k}_{col}"] = v
    procs = compiled.processors
    params = tuple(procs[n](values[n]) if n in procs else values[n] for n in compiled.names)
    try:
        await conn.exec_driver_sql(compiled.sql, params)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "22012" or "division by zero" in str(exc.orig).lower():
            return set()  # some pool was short: the whole statement was undone
        raise
    return {pool_id for pool_id, _ in takes}


def _compile(dialect: Any, pools: Table, n_takes: int, tables: list[tuple[Table, list[str], int]]) -> _Compiled:
    c = pools.c
    org = bindparam("org", type_=c.organizer_id.type)
    updates = []
    for i in range(n_takes):
        n = bindparam(f"n_{i}", type_=c.held.type)
        updates.append(
            update(pools)
            .where(c.id == bindparam(f"pool_{i}", type_=c.id.type), c.organizer_id == org)
            .where(c.held + c.sold + n <= c.capacity + c.allowance)
            .values(held=c.held + n)
            .returning(c.id)
            .cte(f"take_{i}")
        )
    every_pool_matched = and_(*[exists(select(u.c.id)) for u in updates])
    inserts = []
    for j, (table, columns, count) in enumerate(tables):
        # Parameters in a SELECT list have no type of their own in PostgreSQL: cast each to its column's type.
        selects = [
            select(
                *[
                    cast(bindparam(f"v{j}_{k}_{col}", type_=table.c[col].type), table.c[col].type).label(col)
                    for col in columns
                ]
            ).where(every_pool_matched)
            for k in range(count)
        ]
        source = selects[0] if count == 1 else union_all(*selects)
        inserts.append(insert(table).from_select(columns, source).cte(f"put_{j}"))
    # Exactly one row, always evaluated: 1/1 when every pool matched, else a division by zero that aborts the
    # whole statement — the updates that did match included.
    one, zero = literal_column("1", Integer), literal_column("0", Integer)  # constants, not parameters
    guard = one / case((every_pool_matched, one), else_=zero)
    stmt = select(guard.label("ok")).add_cte(*updates, *inserts)
    compiled = stmt.compile(dialect=dialect)
    assert compiled.positiontup is not None, "the PostgreSQL driver's parameters are positional"
    return _Compiled(compiled.string, tuple(compiled.positiontup), dict(compiled._bind_processors))
