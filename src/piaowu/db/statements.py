"""Statements whose SQL differs between PostgreSQL and SQLite (kept here, out of business code)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.db import hotpath


async def insert_ignore(session: AsyncSession, table: Table, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING. True when the row was inserted, False when it already existed.

    Unlike catching IntegrityError, this does not abort a PostgreSQL transaction, so the caller can go on.
    """
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Core, in one greenlet switch (``hotpath.execute``): the sandbox opens a trade so on every online payment.
    result = await hotpath.execute(session, builder(table).values(**values).on_conflict_do_nothing())
    return result.rowcount == 1
