"""Counting the statements a piece of work sends to the database (both engines: on SQLite reads have their own)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from piaowu.db import driver


@contextmanager
def statements(runtime: Any) -> Iterator[list[str]]:
    """The statements sent while the block runs, each on one line. BEGIN and COMMIT are not statements of a cursor
    and are not listed (on PostgreSQL a unit of work in autocommit mode has none)."""
    sent: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001, ANN002, ANN202
        if not statement.startswith("BEGIN"):  # SQLite's, sent as a statement by db/engine.py
            sent.append(" ".join(statement.split()))

    engines = {id(e): e.sync_engine for e in (runtime.db.write_engine, runtime.db.read_engine)}.values()
    # The hot statements sent on the driver's own connection (db/driver.py) pass no SQLAlchemy event: counted
    # where they are sent.
    on_driver = driver.fetchrow

    async def fetchrow(session: Any, sql: str, params: Any) -> Any:
        sent.append(" ".join(sql.split()))
        return await on_driver(session, sql, params)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    driver.fetchrow = fetchrow  # type: ignore[assignment]
    try:
        yield sent
    finally:
        driver.fetchrow = on_driver  # type: ignore[assignment]
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


def short(sent: list[str]) -> str:
    """For an assertion's message: one statement a line, its first 80 characters."""
    return "\n".join(s[:80] for s in sent)


@contextmanager
def transactions(runtime: Any) -> Iterator[list[str]]:
    """Explicit transactions begun while the block runs (not autocommit statements, which need no BEGIN)."""
    begun: list[str] = []

    def count(conn: Any) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            begun.append("BEGIN")

    engines = {id(e): e.sync_engine for e in (runtime.db.write_engine, runtime.db.read_engine)}.values()
    for engine in engines:
        event.listen(engine, "begin", count)
    try:
        yield begun
    finally:
        for engine in engines:
            event.remove(engine, "begin", count)
