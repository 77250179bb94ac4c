"""The ``piaowu`` command against real databases: what an operator types on a fresh install."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from piaowu import cli
from piaowu.accounts import service as accounts
from piaowu.catalog import event_service
from piaowu.config import Settings, get_settings
from piaowu.demo import DEMO_LOGINS
from piaowu.organizers import service as organizers
from piaowu.runtime import build_runtime
from tests.servers import TOKEN_RE, fresh_pg_database

runner = CliRunner()
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """PIAOWU_* settings pointing at a temp var/ dir with a not-yet-created SQLite database."""
    monkeypatch.setenv("PIAOWU_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("PIAOWU_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'var' / 'piaowu.db'}")
    for name, value in (("TIME_COST", "1"), ("MEMORY_COST", "8"), ("PARALLELISM", "1")):
        monkeypatch.setenv(f"PIAOWU_ARGON2_{name}", value)
    monkeypatch.delenv("PIAOWU_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def invoke(*args: str, input: str | None = None):  # noqa: ANN201
    return runner.invoke(cli.app, list(args), input=input)


def ok(*args: str, input: str | None = None):  # noqa: ANN201
    result = invoke(*args, input=input)
    assert result.exit_code == 0, f"piaowu {' '.join(args)} → {result.exit_code}\n{result.output}"
    return result


def check(coro_fn):  # noqa: ANN001, ANN201
    """Runs async assertions against the configured database (the CLI itself runs its own event loops)."""

    async def main():  # noqa: ANN202
        rt = build_runtime(Settings())
        try:
            return await coro_fn(rt)
        finally:
            await rt.db.dispose()

    return asyncio.run(main())


def test_init_migrates_a_fresh_database_and_can_run_again(cli_env: Path) -> None:
    ok("init")
    ok("init")
    with sqlite3.connect(cli_env / "piaowu.db") as db:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type = 'table'")}
        assert db.execute("select count(*) from alembic_version").fetchone() == (1,)
    assert {"organizers", "inventory_pools", "outbox"} <= tables
    assert (cli_env / "secret_key").stat().st_mode & 0o077 == 0  # created once, readable by its owner only


async def _seating(rt, actor, session_ids):  # noqa: ANN001, ANN202
    from piaowu.seating import session_seating

    async with rt.uow(readonly=True) as uow:
        return [
            (
                await session_seating.seating_summary(uow, actor, sid),
                await session_seating.zone_prices(uow, actor.organizer_id, sid),
            )
            for sid in session_ids
        ]


def test_demo_seeds_once_through_the_services(cli_env: Path) -> None:
    ok("init")
    first = ok("demo")
    token = TOKEN_RE.search(first.output)
    assert token, first.output
    for login in DEMO_LOGINS:
        assert login.email in first.output and login.password in first.output

    second = ok("demo")
    assert "already exists" in second.output
    assert DEMO_LOGINS[0].email in second.output
    assert not TOKEN_RE.search(second.output)  # a token is shown once, on creation only

    async def state(rt):  # noqa: ANN001, ANN202
        async with rt.uow(readonly=True) as uow:
            orgs = await organizers.list_organizers(uow)
            roles = {
                login.email: (await accounts.login(uow, rt.passwords, login.email, login.password)).role
                for login in DEMO_LOGINS
            }
            actor = await accounts.token_actor(uow, token.group(0))
            events = (await event_service.list_events(uow, actor)).items
        return orgs, roles, actor, events, rt.clock.now()

    orgs, roles, actor, events, now = check(state)
    assert [o.slug for o in orgs] == ["demo"]
    assert roles == {"admin@demo.piaowu": "owner", "sales@demo.piaowu": "sales", "gate@demo.piaowu": "gate"}
    assert actor.organizer_id == orgs[0].id and actor.role == "owner"
    by_name = {e.name: e for e in events}  # no reader's language here: the organizer's default (zh-CN)
    assert set(by_name) == {"新年音乐会", "西湖游船", "玉龙雪山景区"}
    assert {e.name_i18n["en"] for e in events} == {"New Year Concert", "West Lake Cruise", "Jade Dragon Snow Mountain"}
    park = by_name["玉龙雪山景区"]  # sessions in series: one rule, 30 days
    park_days = sorted(s.starts_at.astimezone(SHANGHAI) for s in park.sessions)
    assert [d.date() for d in park_days] == [now.astimezone(SHANGHAI).date() + timedelta(days=i) for i in range(30)]
    assert all(len(s.ticket_types) == 3 and all(t.definition_id for t in s.ticket_types) for s in park.sessions)

    concert = by_name["新年音乐会"]
    assert concert.kind == "performance" and concert.is_published
    assert concert.venue_name == "演示剧院 大剧场" and concert.venue_timezone == "Asia/Shanghai"
    assert len(concert.sessions) == 2
    today = now.astimezone(SHANGHAI).date()
    for s in concert.sessions:
        local = s.starts_at.astimezone(SHANGHAI)
        assert local.hour >= 18 and local.date() > today  # evening, in the future
        assert s.capacity == 500 and s.sale_state == "on_sale"
        assert {t.name: t.name_i18n["en"] for t in s.ticket_types} == {"成人票": "Adult", "学生票": "Student"}
    # The concert sells seats: a 500-seat layout, zones A and B priced per ticket type, two house seats kept back.
    seating = check(lambda rt: _seating(rt, actor, [s.id for s in concert.sessions]))
    types = {t.id: t.name for s in concert.sessions for t in s.ticket_types}
    for summary, prices in seating:
        assert summary.seat_count == 500
        zones = [(z.zone, z.total, z.free, z.blocked) for z in summary.zones]
        assert zones == [("A", 200, 198, 2), ("B", 300, 300, 0)]
        assert {(p.zone, types[p.ticket_type_id], p.price_minor) for p in prices} == {
            ("A", "成人票", 38000),
            ("A", "学生票", 28000),
            ("B", "成人票", 18000),
            ("B", "学生票", 12000),
        }

    cruise = by_name["西湖游船"]
    assert cruise.kind == "attraction"
    days = sorted(s.starts_at.astimezone(SHANGHAI) for s in cruise.sessions)
    assert [d.date() for d in days] == [today + timedelta(days=i) for i in range(7)]
    assert all((d.hour, d.minute) == (9, 0) for d in days)
    for s in cruise.sessions:
        assert s.capacity == 800
        assert (s.ends_at.astimezone(SHANGHAI).hour, s.ends_at.astimezone(SHANGHAI).minute) == (17, 30)
        kinds = {t.name: (t.price_minor, t.max_per_order) for t in s.ticket_types}
        assert kinds["成人票"][0] == 7000
        assert kinds["儿童票"] == (3500, 4)


def test_create_admin_asks_for_the_password_twice_and_refuses_bad_input(cli_env: Path) -> None:
    ok("init")
    ok("create-organizer", "grand-theatre", "大剧院 Grand Theatre")
    ok("create-admin", "grand-theatre", "Boss@Example.com", "Boss", input="long enough\nlong enough\n")

    mismatch = invoke("create-admin", "grand-theatre", "x@example.com", "X", input="long enough\nother one\n")
    assert mismatch.exit_code != 0  # click re-prompts, then stdin ends: nothing is created
    duplicate = invoke("create-admin", "grand-theatre", "boss@example.com", "Again", "--password", "long enough")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    short = invoke("create-admin", "grand-theatre", "y@example.com", "Y", "--password", "short")
    assert short.exit_code == 1 and "8 characters" in short.output
    unknown = invoke("create-admin", "no-such-org", "z@example.com", "Z", "--password", "long enough")
    assert unknown.exit_code == 1 and "no-such-org" in unknown.output
    bad_slug = invoke("create-organizer", "Not A Slug", "X")
    assert bad_slug.exit_code == 1

    async def state(rt):  # noqa: ANN001, ANN202
        async with rt.uow(readonly=True) as uow:
            user = await accounts.login(uow, rt.passwords, "boss@example.com", "long enough")
            org = await organizers.get_by_slug(uow, "grand-theatre")
            staff = await accounts.list_staff(uow, accounts.actor_for_user(user))
        return user, org, staff

    user, org, staff = check(state)
    assert user.role == "owner" and user.organizer_id == org.id
    assert [s.email for s in staff] == ["boss@example.com"]


def test_create_token_prints_a_working_token_once(cli_env: Path) -> None:
    ok("init")
    ok("create-organizer", "museum", "博物馆 Museum")
    result = ok("create-token", "museum", "--name", "distributor", "--role", "sales")
    token = result.stdout.strip().splitlines()[-1]
    assert TOKEN_RE.fullmatch(token)
    assert invoke("create-token", "museum", "--role", "emperor").exit_code == 1

    async def resolve(rt):  # noqa: ANN001, ANN202
        async with rt.uow(readonly=True) as uow:
            return await accounts.token_actor(uow, token), await organizers.get_by_slug(uow, "museum")

    actor, org = check(resolve)
    assert actor.organizer_id == org.id and actor.role == "sales" and actor.name == "distributor"


def test_serve_runs_uvicorn_with_the_settings_given(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    monkeypatch.setattr("uvicorn.Server.run", lambda self: seen.update(one=self.config) or setattr(self, "started", 1))
    monkeypatch.setattr("piaowu.serving.Supervisor.run", lambda self: seen.update(config=self.config) or 0)
    monkeypatch.setenv("PIAOWU_PORT", "9123")
    ok("serve", "--workers", "2")  # several workers: under piaowu.serving's supervisor
    config = seen.pop("config")
    assert not seen  # not uvicorn's own multi-worker mode
    assert (config.app, config.factory) == ("piaowu.app:create_app", True)  # type: ignore[attr-defined]
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 9123, 2)  # type: ignore[attr-defined]
    assert (config.loop, config.http) == ("uvloop", "httptools")  # type: ignore[attr-defined]
    assert (cli_env / "secret_key").exists()  # made before the workers start, so they all read the same key
    ok("serve", "--host", "0.0.0.0", "--port", "8080")  # one worker: uvicorn's server in this process
    one = seen["one"]
    assert (one.app, one.factory, one.workers) == ("piaowu.app:create_app", True, 1)  # type: ignore[attr-defined]
    assert (one.host, one.port, one.loop, one.http) == ("0.0.0.0", 8080, "uvloop", "httptools")  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_init_and_demo_on_postgresql(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_pg_database() as url:
        monkeypatch.setenv("PIAOWU_DATABASE_URL", url)
        get_settings.cache_clear()
        ok("init")
        assert TOKEN_RE.search(ok("demo").output)
        assert "already exists" in ok("demo").output

        async def counts(rt):  # noqa: ANN001, ANN202
            async with rt.uow(readonly=True) as uow:
                org = await organizers.get_by_slug(uow, "demo")
                owner = await accounts.login(uow, rt.passwords, DEMO_LOGINS[0].email, DEMO_LOGINS[0].password)
                events = (await event_service.list_events(uow, accounts.actor_for_user(owner))).items
            return org, events

        org, events = check(counts)
        assert org.name == "演示剧院 Demo Theatre"
        assert sorted(len(e.sessions) for e in events) == [2, 7, 30]
        assert all(s.starts_at.tzinfo is not None for e in events for s in e.sessions)
