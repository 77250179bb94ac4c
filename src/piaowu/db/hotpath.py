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

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, and_, cast, exists, insert, literal, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

Rows = Sequence[tuple[Table, Sequence[dict[str, Any]]]]


async def guarded_take_and_insert(
    session: AsyncSession, pools: Table, organizer_id: str, takes: Sequence[tuple[str, int]], rows: Rows
) -> set[str]:
    """Add ``n`` to ``held`` of each pool where ``held + sold + n <= capacity + allowance`` and, only when every
    pool matched, insert ``rows``. → the ids of the pools that were updated (all of them on success).

    When some pool did not match, nothing is inserted; updates that did match stay in the transaction, which
    the caller must roll back (it raises SoldOut, and the unit of work never commits after an error).
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


async def _one_statement(
    session: AsyncSession, pools: Table, organizer_id: str, takes: Sequence[tuple[str, int]], rows: Rows
) -> set[str]:
    updates = [
        _guarded_update(pools, organizer_id, pool_id, n).returning(pools.c.id).cte(f"take_{i}")
        for i, (pool_id, n) in enumerate(takes)
    ]
    every_pool_matched = and_(*[exists(select(u.c.id)) for u in updates])
    inserts = []
    for j, (table, dicts) in enumerate(rows):
        if not dicts:
            continue
        columns = list(dicts[0])
        # Parameters in a SELECT list have no type of their own in PostgreSQL: cast each to its column's type.
        selects = [
            select(
                *[cast(literal(d[col], type_=table.c[col].type), table.c[col].type).label(col) for col in columns]
            ).where(every_pool_matched)
            for d in dicts
        ]
        source = selects[0] if len(selects) == 1 else union_all(*selects)
        inserts.append(insert(table).from_select(columns, source).cte(f"put_{j}"))
    stmt = union_all(*[select(u.c.id) for u in updates]) if len(updates) > 1 else select(updates[0].c.id)
    stmt = stmt.add_cte(*inserts)
    return set((await session.execute(stmt)).scalars())
