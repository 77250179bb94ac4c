"""Shared fixtures: a migrated database per test (SQLite file and PostgreSQL), a runtime, an app, a client.

PostgreSQL tests create and drop their own databases on 127.0.0.1:5432. Without a server they skip locally;
with CI=true they fail instead of skipping (``require_or_skip``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from piaowu.config import Settings
from piaowu.core.clock import FrozenClock
from piaowu.db.migrate import upgrade
from piaowu.runtime import Runtime, build_runtime

PG_ADMIN_DSN = os.environ.get("PIAOWU_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_or_skip(available: bool, what: str) -> None:
    """Skip locally when a real part is missing; in CI a missing part is a failure, never a skip."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI (CI=true) but is not available")
    pytest.skip(f"{what} not available here (it runs in CI)")


def _pg_base() -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0]


async def _pg_available() -> bool:
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def _pg_exec(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


_PG_OK: bool | None = None


def pg_available() -> bool:
    global _PG_OK
    if _PG_OK is None:
        _PG_OK = asyncio.run(_pg_available())
    return _PG_OK


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tmpl") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    require_or_skip(pg_available(), "PostgreSQL at 127.0.0.1:5432")
    name = f"piaowu_tmpl_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
    upgrade(_asyncpg_url(name))
    yield name
    asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _asyncpg_url(dbname: str) -> str:
    return f"postgresql+asyncpg://{_pg_base().split('://', 1)[1]}/{dbname}"


# A TRUNCATE replaces the files of the table and of each of its indexes: ~7 ms a table on a slow machine, ~0.26 s
# for all 36 after every PostgreSQL test (~2 minutes of a CI run). A DELETE of the few rows a test leaves costs a
# fraction of that, so tables are emptied by DELETE — with ``session_replication_role = replica``: no foreign-key
# checks (every table is emptied) and no append-only trigger of ``audit_events`` (it guards the application, not
# this harness). A table a test filled past ``_DELETE_BELOW`` rows is truncated, and every ``_FULL_EVERY``-th
# emptying truncates all, so the dead rows DELETE leaves never pile up over a session (autovacuum may be off).
_DELETE_BELOW = 200
_FULL_EVERY = 50
_emptied = 0


def _empty_sql(tables: list[str], *, full: bool) -> str:
    if full:
        return "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"
    names = ", ".join(f"'{t}'" for t in tables)
    return f"""
DO $do$
DECLARE t text; n int; big text[] := '{{}}';
BEGIN
  SET LOCAL session_replication_role = replica;
  FOREACH t IN ARRAY ARRAY[{names}] LOOP
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %I LIMIT {_DELETE_BELOW}) s', t) INTO n;
    IF n >= {_DELETE_BELOW} THEN big := big || t;
    ELSIF n > 0 THEN EXECUTE format('DELETE FROM %I', t);
    END IF;
  END LOOP;
  IF cardinality(big) > 0 THEN
    EXECUTE 'TRUNCATE ' || (SELECT string_agg(format('%I', x), ', ') FROM unnest(big) x) || ' CASCADE';
  END IF;
END $do$"""


async def _truncate_all(dbname: str) -> None:
    """Every table of the models emptied (the migrations' own bookkeeping kept)."""
    from piaowu.models import Base, load_all_models

    global _emptied
    load_all_models()
    _emptied += 1
    sql = _empty_sql([t.name for t in Base.metadata.sorted_tables], full=_emptied % _FULL_EVERY == 0)
    conn = await asyncpg.connect(f"{_pg_base()}/{dbname}")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each kind. Tests using it run twice: on SQLite and on PostgreSQL.

    PostgreSQL: one migrated database per test session, emptied after each test (``_truncate_all``) — much faster
    than a database per test. Tests that need a database of their own (servers, benchmarks) use ``pg_url``.
    """
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "piaowu.db"
        shutil.copy(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = request.getfixturevalue("pg_template")
    yield _asyncpg_url(name)
    asyncio.run(_truncate_all(name))


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "piaowu.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A PostgreSQL database of this test's own (created from the migrated template, dropped after)."""
    name = f"piaowu_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield _asyncpg_url(name)
    asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def make_settings(tmp_path: Path, db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "var_dir": tmp_path / "var",
        "database_url": db_url,
        "secret_key": "test-secret-key-not-for-production",
        "argon2_time_cost": 1,
        "argon2_memory_cost": 8,
        "argon2_parallelism": 1,
        "run_background_jobs": False,
        "public_url": "http://testserver",
        # The shop's micro-cache runs on the runtime's clock, which tests freeze: off by default, so that a test
        # sees its own changes at once; tests/web/test_shop_cache.py switches it on and moves the clock.
        "shop_cache_seconds": 0,
        # The in-process race tests run dozens of use cases at once in one runtime, standing in for many server
        # processes: a production process's 4 connections would queue them in the pool and the races (and their
        # control runs) would not happen. Servers started by tests/servers.py keep the production default.
        "db_pool_size": 24,
        # The same race tests queue dozens of transactions on one hot row; on a loaded 2-core CI machine the last
        # waited past the production 5 s lock timeout (a sweeper refused, a race test failed for nothing). They
        # test what is written, not how fast; tests of the timeout itself set their own.
        "lock_timeout_seconds": 30.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))


@pytest.fixture
async def runtime(tmp_path: Path, db_url: str, clock: FrozenClock) -> AsyncIterator[Runtime]:
    settings = make_settings(tmp_path, db_url)
    rt = build_runtime(settings, clock=clock)
    yield rt
    # aclose, not db.dispose: a held request's listening connection to the shared database would outlive the test
    # and refuse every later "CREATE DATABASE … TEMPLATE" of pg_url ("is being accessed by other users").
    await rt.aclose()


@pytest.fixture
async def app(runtime: Runtime):  # noqa: ANN201
    from piaowu.app import create_app

    return create_app(runtime=runtime)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ANN001
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class Tenant:
    organizer_id: str
    slug: str
    owner_id: str
    owner_email: str
    password: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_tenant(rt: Runtime, slug: str = "demo-theatre", role: str = "owner") -> Tenant:
    from piaowu.accounts import service as accounts
    from piaowu.organizers import service as organizers

    async with rt.uow() as uow:
        org = await organizers.create_organizer(uow, slug=slug, name=f"{slug} org", app_secret=rt.secret_key)
        email = f"owner@{slug}.test"
        user = await accounts.create_user(
            uow, None, rt.passwords, organizer_id=org.id, email=email, name="Owner", password="correct horse", role=role
        )
        token, _ = await accounts.create_token(uow, None, organizer_id=org.id, name="tests", role=role)
        await uow.commit()
    return Tenant(org.id, slug, user.id, email, "correct horse", token)


@pytest.fixture
async def tenant(runtime: Runtime) -> Tenant:
    return await make_tenant(runtime)


@pytest.fixture
async def other_tenant(runtime: Runtime) -> Tenant:
    return await make_tenant(runtime, slug="other-venue")
