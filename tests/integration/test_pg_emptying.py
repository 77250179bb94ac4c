"""The shared PostgreSQL test database is emptied after every test (tests/conftest.py ``_truncate_all``): a row a
test leaves behind would change what the next test on that worker counts or finds. Both ways of emptying are
checked — the DELETE of a few rows (foreign keys and the audit log's append-only trigger in the way) and the
TRUNCATE of a table filled past the threshold or of every table — with rows that reference each other."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from piaowu.models import Base, load_all_models
from tests import conftest
from tests.conftest import make_settings, make_tenant


def _dsn(pg_url: str) -> str:
    return "postgresql://" + pg_url.split("://", 1)[1]


async def _fill(pg_url: str, tmp_path: Path, audit_rows: int) -> None:
    """An organizer with its owner and token (the service's own rows and audit events), plus ``audit_rows``
    more audit events referencing it."""
    from piaowu.runtime import build_runtime

    rt = build_runtime(make_settings(tmp_path, pg_url))
    try:
        tenant = await make_tenant(rt)
    finally:
        await rt.db.dispose()
    conn = await asyncpg.connect(_dsn(pg_url))
    try:
        await conn.executemany(
            "insert into audit_events (id, organizer_id, actor, action, subject_type, subject_id, at) "
            "values ($1, $2, 'test', 'test.filled', 'organizer', $2, now())",
            [(f"{k:026d}", tenant.organizer_id) for k in range(audit_rows)],
        )
    finally:
        await conn.close()


async def _counts(pg_url: str) -> dict[str, int]:
    load_all_models()
    conn = await asyncpg.connect(_dsn(pg_url))
    try:
        return {t.name: await conn.fetchval(f'select count(*) from "{t.name}"') for t in Base.metadata.sorted_tables}
    finally:
        await conn.close()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("audit_rows", "nth"),
    [(3, 1), (conftest._DELETE_BELOW + 5, 1), (3, conftest._FULL_EVERY)],
    ids=["delete", "truncate-the-big-table", "truncate-all"],
)
def test_every_table_is_empty_after_the_emptying(pg_url: str, tmp_path: Path, audit_rows: int, nth: int) -> None:
    asyncio.run(_fill(pg_url, tmp_path, audit_rows))
    filled = asyncio.run(_counts(pg_url))
    assert filled["audit_events"] >= audit_rows and filled["organizers"] == 1, filled
    assert sum(1 for n in filled.values() if n) >= 3, filled  # rows in several tables, referencing each other
    conftest._emptied = nth - 1  # the next emptying is the nth of the session
    asyncio.run(conftest._truncate_all(pg_url.rsplit("/", 1)[1]))
    assert {t: n for t, n in asyncio.run(_counts(pg_url)).items() if n} == {}
