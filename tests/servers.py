"""The real server in a subprocess, for browser tests and races through HTTP.

``running_server(db_url, workers=2)`` starts ``piaowu serve`` (uvicorn with uvloop and httptools, exactly what
an operator runs) on a free port and yields its base URL once /healthz answers. The fixtures below give a
session-wide SQLite server with ``piaowu init`` + ``piaowu demo`` applied (browser tests) and a PostgreSQL
server with two workers on its own database (concurrency tests). Import the fixtures into a conftest:
``from tests.servers import live_server, pg_live_server  # noqa: F401``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import _asyncpg_url, _pg_exec, pg_available, require_or_skip

# Cheap password hashing and a fast sweeper: tests wait for expiry in seconds, not minutes.
SERVER_ENV: dict[str, str] = {
    "PIAOWU_SECRET_KEY": "test-secret-key-not-for-production",
    "PIAOWU_ARGON2_TIME_COST": "1",
    "PIAOWU_ARGON2_MEMORY_COST": "8",
    "PIAOWU_ARGON2_PARALLELISM": "1",
    "PIAOWU_SWEEP_INTERVAL_SECONDS": "0.5",
}
# A bound for a server that never comes up, not a speed check: a loaded 2-core CI machine has taken over 30 s to
# start one (two workers importing the app next to the test processes), and a test then failed for nothing.
STARTUP_TIMEOUT_S = 90.0
T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(db_url: str, var_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIAOWU_")}
    env.update(SERVER_ENV)
    env["PIAOWU_DATABASE_URL"] = db_url
    env["PIAOWU_VAR_DIR"] = str(var_dir)
    env.update(extra or {})
    return env


def piaowu(*args: str, env: Mapping[str, str], timeout: float = 120) -> str:
    """Runs the ``piaowu`` command in a subprocess (as an operator would) and returns its output."""
    proc = subprocess.run(
        [sys.executable, "-m", "piaowu", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"piaowu {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


@contextmanager
def running_server(
    db_url: str,
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    *,
    var_dir: Path | None = None,
    set_public_url: bool = True,
) -> Iterator[str]:
    """Serves ``db_url`` (already migrated) with ``workers`` processes; yields ``http://127.0.0.1:<port>``.

    ``env`` adds or overrides PIAOWU_* settings. ``set_public_url=False`` leaves PIAOWU_PUBLIC_URL unset, as an
    operator who only passes ``--port`` does. The server's log goes to ``<var_dir>/server.log`` and is
    shown if it fails to start. The process group is stopped on exit, workers included.
    """
    with tempfile.TemporaryDirectory(prefix="piaowu-srv-") as tmp:
        var = var_dir or Path(tmp)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        full_env = server_env(db_url, var, {"PIAOWU_PUBLIC_URL": base_url} if set_public_url else {})
        full_env.update(env or {})
        log_path = var / "server.log"
        cmd = [sys.executable, "-m", "piaowu", "serve", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", str(workers), "--log-level", "warning"]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_healthy(proc, base_url, log_path)
            yield base_url
        finally:
            _stop(proc)


def _wait_healthy(proc: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    _stop(proc)
    raise RuntimeError(f"the server did not answer /healthz in {STARTUP_TIMEOUT_S:.0f} s:\n{log_path.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()  # the supervisor (piaowu.serving) stops its workers on SIGTERM
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    # Anything left in the server's own process group (a stuck worker) goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def run_async(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """``asyncio.run(fn(*args))`` in a thread of its own: works from sync tests and fixtures even while this
    thread's loop counts as running (pytest-asyncio, or an open sync Playwright browser)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(fn(*args))).result()


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """An empty PostgreSQL database of our own (created, then dropped with its connections)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        available = pool.submit(pg_available).result()
    require_or_skip(available, "PostgreSQL at 127.0.0.1:5432")
    name = f"piaowu_srv_{uuid.uuid4().hex[:10]}"
    run_async(_pg_exec, f'CREATE DATABASE "{name}"')
    try:
        yield _asyncpg_url(name)
    finally:
        run_async(_pg_exec, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    db_url: str
    env: dict[str, str] = field(repr=False)  # the PIAOWU_* settings the server runs with
    demo_token: str | None  # the demo organizer's owner API token, when the demo was seeded
    log_path: Path  # the server's output (shown in the report of a failed e2e test)

    def url(self, path: str) -> str:
        return self.base_url + path


TOKEN_RE = re.compile(r"\bpw_[0-9a-f]+_[A-Za-z0-9_-]+")


def prepared(db_url: str, var_dir: Path, *, demo: bool = True) -> tuple[dict[str, str], str | None]:
    """``piaowu init`` (+ ``piaowu demo``) on ``db_url``; → the environment used and the demo API token."""
    env = server_env(db_url, var_dir)
    piaowu("init", env=env)
    token = None
    if demo:
        found = TOKEN_RE.search(piaowu("demo", env=env))
        token = found.group(0) if found else None
    return {k: v for k, v in env.items() if k.startswith("PIAOWU_")}, token


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the whole test session on a fresh SQLite database with the demo seeded.
    Tests share it: create what you change (or use unique names) rather than relying on a pristine state."""
    var = tmp_path_factory.mktemp("live")
    db_url = f"sqlite+aiosqlite:///{var / 'piaowu.db'}"
    env, token = prepared(db_url, var)
    with running_server(db_url, workers=1, var_dir=var) as base_url:
        yield LiveServer(base_url, db_url, env, token, var / "server.log")


@pytest.fixture(scope="session")
def pg_live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Two uvicorn workers on a PostgreSQL database of their own, demo seeded: races through real HTTP."""
    var = tmp_path_factory.mktemp("pglive")
    with fresh_pg_database() as db_url:
        env, token = prepared(db_url, var)
        with running_server(db_url, workers=2, var_dir=var) as base_url:
            yield LiveServer(base_url, db_url, env, token, var / "server.log")


def api_session(
    base_url: str,
    token: str,
    *,
    event: dict[str, Any],
    session_name: str,
    starts_in: timedelta,
    hours: int,
    capacity: int,
    ticket_type: dict[str, Any],
) -> tuple[str, str]:
    """An on-sale session with one ticket type, made through a running server's API, as an integrator would.
    → (session id, ticket type id)."""
    start = datetime.now(UTC).replace(microsecond=0) + starts_in
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        ev = api.post("/api/v1/events", json={"is_published": True, **event})
        assert ev.status_code == 201, ev.text
        s = api.post(
            f"/api/v1/events/{ev.json()['id']}/sessions",
            json={
                "name": session_name,
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(hours=hours)).isoformat(),
                "capacity": capacity,
                "status": "on_sale",
            },
        )
        assert s.status_code == 201, s.text
        tt = api.post(f"/api/v1/sessions/{s.json()['id']}/ticket-types", json=ticket_type)
        assert tt.status_code == 201, tt.text
    return s.json()["id"], tt.json()["id"]


def api_box_office_ticket(base_url: str, token: str, ticket_type_id: str) -> dict[str, Any]:
    """One ticket sold for cash through a running server's box-office API. → the ticket (``TicketBrief``)."""
    from tests.order_helpers import BUYER

    sale = {"items": [{"ticket_type_id": ticket_type_id, "quantity": 1}], "buyer": BUYER, "payment": {"method": "cash"}}
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        r = api.post("/api/v1/box-office/sales", json=sale)
        assert r.status_code == 201, r.text
    return r.json()["lines"][0]["ticket"]


def tonight_session(server: LiveServer, event_name: str, *, capacity: int = 10) -> tuple[str, str]:
    """A published event at the demo's small hall whose session starts in 30 minutes (its admission is open),
    one ticket type "普通票 Standard" at ¥120, made with the demo organizer's token. → (session id, ticket type id)."""
    assert server.demo_token, "the live server was seeded without the demo organizer"
    return api_session(
        server.base_url,
        server.demo_token,
        event={"name": event_name, "venue_name": "演示剧院 小剧场"},
        session_name="今晚 Tonight",
        starts_in=timedelta(minutes=30),
        hours=3,
        capacity=capacity,
        ticket_type={"name": "普通票 Standard", "price_minor": 12000, "max_per_order": 4},
    )
