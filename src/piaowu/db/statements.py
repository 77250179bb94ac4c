"""Statements whose SQL differs between PostgreSQL and SQLite (kept here, out of business code)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam
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
