"""Flash sale benchmark: N concurrent clients buy 1-ticket orders from one session until it is sold out.

    .venv/bin/python bench/flash_sale.py [--clients 64] [--units 5000] [--mode create|paid|spread|browse|both|all]
                                         [--workers 2|1|1,2] [--skip-pgbench]

It creates its own PostgreSQL database (dropped at the end), migrates it, seeds an organizer, an API token and
one session of ``--units`` units per mode, starts ``piaowu serve`` with 2 workers (background jobs on) and, for
the paid mode, the sandbox gateway as a process of its own (``piaowu gateway``, which delivers its own
notifications, as a real gateway would; its CPU is reported on its own line), then drives it:

- ``create``: POST /api/v1/orders until 409 sold_out;
- ``paid``: create → POST /orders/{id}/payments → the buyer pays on the gateway's hosted page (its form, with
  the CSRF token of the client's gateway session) → GET /orders/{id}/status?wait=20&with_order=true (held until
  the payment's commit wakes it; asked again on a timeout) until paid: its answer carries the order, tickets issued.
- ``spread``: 200 sessions (``--spread-sessions``) of 5 events on sale at once, ``--units`` units over all of
  them; each order goes to a random session still on sale (POST /api/v1/orders) until all are sold out. No hot
  row: the figure is the cost of a request.
- ``browse``: what a buyer's page loads while a sale runs, driven by ``wrk`` (Debian: ``apt-get install -y
  wrk``): the availability JSON of a session on sale, then its page, ``--browse-seconds`` each, while buyers keep
  buying from it; halfway through each, another session is bought out and the time until its JSON and its page
  (over 4 connections: each worker has its own cache) say it is no longer buyable is its ``staleness_ms``.

``--timeline`` (paid mode): per-order timestamps of each step from inside the server and the gateway, merged into
where "until paid" goes at the median and in the slowest 2 % (``bench/timeline.py``).

``--mode all`` runs the four after one pgbench; ``--workers 1,2`` runs everything on a 1-worker and then a
2-worker server (a database of its own each) and ends with a ``workers_compared`` line: which count wins where.

Prints one JSON line per mode (orders/s — browse: ``availability_per_s`` and ``pages_per_s`` —, latency
percentiles per step, errors by code, CPU per order of the server, of PostgreSQL and of the load generator (this
script, plus wrk), transactions and — when pg_stat_statements is loaded — statements per order, ``oversold``
checked in the database)
and, unless skipped, PostgreSQL's own pgbench TPS (TPC-B, scale 10, 16 clients, 20 s, in a database of its own)
with each mode's ratio to it. Exits 1 if anything was oversold or a counter disagrees with its rows.

The load generator is raw asyncio with HTTP/1.1 keep-alive and minimal parsing, so that it costs the server's
two cores as little as possible. Each client does one warm-up purchase before the clock starts (it opens the
connection and, in paid mode, the gateway session); warm-up orders count in the database checks, not in the
figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import timeline  # noqa: E402

PG_ADMIN_DSN = os.environ.get("PIAOWU_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
CLK = os.sysconf("SC_CLK_TCK")
BUYER = {"name": "张三", "phone": "13812345678"}


# --- the database and the server ------------------------------------------------------------------------------


def pg_url(dbname: str, driver: str = "postgresql") -> str:
    return f"{driver}://{PG_ADMIN_DSN.split('://', 1)[1].rsplit('/', 1)[0]}/{dbname}"


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(
    db_url: str, var: Path, secret: str, units: dict[str, int], modes: list[str]
) -> tuple[str, dict[str, str]]:
    """An organizer, an owner API token and one on-sale session per mode. → (token, {mode: ticket type id})."""
    from piaowu.accounts import service as accounts
    from piaowu.catalog import event_service, session_service, ticket_type_service
    from piaowu.catalog.schemas import EventIn, SessionIn, TicketTypeIn
    from piaowu.config import Settings
    from piaowu.organizers import service as organizers
    from piaowu.runtime import build_runtime

    settings = Settings(
        database_url=db_url,
        var_dir=var,
        secret_key=secret,
        argon2_time_cost=1,
        argon2_memory_cost=8,
        argon2_parallelism=1,
    )
    rt = build_runtime(settings)
    try:
        async with rt.uow() as uow:
            org = await organizers.create_organizer(uow, slug="bench", name="Bench", app_secret=secret)
            user = await accounts.create_user(
                uow, None, rt.passwords, organizer_id=org.id, email="owner@bench.test", name="Owner",
                password="bench-password", role="owner",
            )  # fmt: skip
            token, _ = await accounts.create_token(uow, None, organizer_id=org.id, name="bench", role="owner")
            await uow.commit()
        async with rt.uow() as uow:
            actor = await accounts.staff_actor(uow, user.id)
            now = uow.now()
            ev = await event_service.create_event(
                uow, actor, EventIn(name="Flash", venue_name="Hall", is_published=True)
            )
            types = {}
            for mode in modes:
                s = await session_service.create_session(
                    uow, actor, ev.id,
                    SessionIn(name=mode, starts_at=now + timedelta(days=7), ends_at=now + timedelta(days=7, hours=3),
                              capacity=units[mode], status="on_sale"),
                )  # fmt: skip
                tt = await ticket_type_service.create_ticket_type(
                    uow, actor, s.id, TicketTypeIn(name="GA", price_minor=18000, max_per_order=10)
                )
                types[mode] = tt.id
            await uow.commit()
    finally:
        await rt.db.dispose()
    return token, types


async def seed_sessions(
    db_url: str, var: Path, secret: str, name: str, events: int, sessions: int, units: int
) -> list[tuple[str, str]]:
    """``sessions`` on-sale sessions of ``units`` units spread over ``events`` published events (spread and
    browse modes), each with one ticket type. → [(session id, ticket type id)]."""
    from piaowu.accounts import service as accounts
    from piaowu.catalog import event_service, session_service, ticket_type_service
    from piaowu.catalog.schemas import EventIn, SessionIn, TicketTypeIn
    from piaowu.config import Settings
    from piaowu.organizers import service as organizers
    from piaowu.runtime import build_runtime

    settings = Settings(
        database_url=db_url, var_dir=var, secret_key=secret,
        argon2_time_cost=1, argon2_memory_cost=8, argon2_parallelism=1,
    )  # fmt: skip
    rt = build_runtime(settings)
    out: list[tuple[str, str]] = []
    try:
        async with rt.uow() as uow:
            org = await organizers.get_by_slug(uow, "bench")
            user = await accounts.create_user(
                uow, None, rt.passwords, organizer_id=org.id, email=f"{name}@bench.test", name=name,
                password="bench-password", role="owner",
            )  # fmt: skip
            await uow.commit()
        for e in range(events):
            async with rt.uow() as uow:
                actor = await accounts.staff_actor(uow, user.id)
                now = uow.now()
                ev = await event_service.create_event(
                    uow, actor, EventIn(name=f"{name} {e}", venue_name="Hall", is_published=True)
                )
                for i in range(e, sessions, events):
                    start = now + timedelta(days=7, hours=i)
                    s = await session_service.create_session(
                        uow, actor, ev.id,
                        SessionIn(name=f"{name} {i}", starts_at=start, ends_at=start + timedelta(hours=1),
                                  capacity=units, status="on_sale"),
                    )  # fmt: skip
                    tt = await ticket_type_service.create_ticket_type(
                        uow, actor, s.id, TicketTypeIn(name="GA", price_minor=18000, max_per_order=10)
                    )
                    out.append((s.id, tt.id))
                await uow.commit()
    finally:
        await rt.db.dispose()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    db_url: str, var: Path, secret: str, port: int, workers: int, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``piaowu serve`` on ``port``; ``extra_env`` adds or overrides settings (e.g. a rate limit)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIAOWU_")}
    env.update(
        PIAOWU_DATABASE_URL=db_url,
        PIAOWU_VAR_DIR=str(var),
        PIAOWU_SECRET_KEY=secret,
        PIAOWU_PUBLIC_URL=f"http://127.0.0.1:{port}",
        PIAOWU_ALLOWED_RETURN_ORIGINS='["http://shop.invalid"]',  # the buyers' return_url (a shop of its own)
        PIAOWU_RUN_BACKGROUND_JOBS="true",
        PIAOWU_ARGON2_TIME_COST="1",
        PIAOWU_ARGON2_MEMORY_COST="8",
        PIAOWU_ARGON2_PARALLELISM="1",
    )
    env.update(gateway_env())
    env.update(extra_env or {})
    cmd = [sys.executable, "-m", "piaowu", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--log-level", "warning"]
    log = (var / "server.log").open("wb")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


# --- the sandbox gateway in its own process (a real gateway runs outside the shop) ------------------------------


@dataclass
class GatewayProc:
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None


GATEWAY = GatewayProc()
# --timeline: the folder the server's and the gateway's processes write their events to (timeline_hooks/)
TRACE_ENV = "FLASH_SALE_TRACE_DIR"
HOOKS = Path(__file__).resolve().parent / "timeline_hooks"


def gateway_env() -> dict[str, str]:
    """The server's pointer to the gateway process (none: the server serves the gateway itself)."""
    return {"PIAOWU_SANDBOX_GATEWAY_URL": f"http://127.0.0.1:{GATEWAY.port}"} if GATEWAY.port else {}


def start_gateway(db_url: str, var: Path, secret: str, server_port: int) -> None:
    """``piaowu gateway``: buyers pay on its pages and it delivers its notifications to the server; its CPU is
    reported on its own line. Start it before the server (the server is pointed at its port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIAOWU_")}
    env.update(
        PIAOWU_DATABASE_URL=db_url,
        PIAOWU_VAR_DIR=str(var),
        PIAOWU_SECRET_KEY=secret,
        PIAOWU_PUBLIC_URL=f"http://127.0.0.1:{server_port}",
        PIAOWU_RUN_BACKGROUND_JOBS="true",
        PIAOWU_DB_POOL_SIZE="4",  # a handful of short transactions at a time; the server keeps its connections
    )
    GATEWAY.port = free_port()
    cmd = [sys.executable, "-m", "piaowu", "gateway", "--port", str(GATEWAY.port), "--log-level", "warning"]
    log = (var / "gateway.log").open("wb")
    GATEWAY.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


async def on_gateway(
    gw: Conn, method: str, path: str, body: bytes = b"", headers: bytes = b""
) -> tuple[int, bytes, bytes]:
    """A request of the buyer's browser on the gateway's site. That connection sits idle while the buyer waits for
    the shop, close to the gateway's keep-alive timeout, which may close it as the next request goes out: then
    reconnect and send again (showing the page and confirming a paid trade are both repeatable)."""
    try:
        return await gw.request(method, path, body, headers)
    except (asyncio.IncompleteReadError, ConnectionError):
        gw.last = 0.0  # forces a new connection
        return await gw.request(method, path, body, headers)


def gateway_cpu() -> float:
    return tree_cpu(GATEWAY.proc.pid) if GATEWAY.proc is not None else 0.0


def stop_gateway() -> None:
    if GATEWAY.proc is not None:
        stop_server(GATEWAY.proc)
        GATEWAY.proc = None


async def wait_healthy(port: int, proc: subprocess.Popen[bytes], var: Path) -> None:
    deadline = time.monotonic() + 180  # a busy shared machine has taken more than a minute to start two workers
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{(var / 'server.log').read_text(errors='replace')}")
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            c = await Conn.open(port)
            status, _, _ = await c.request("GET", "/healthz")
            c.close()
            if status == 200:
                return
        await asyncio.sleep(0.1)
    raise SystemExit("server did not become healthy")


async def wait_workers_settled(root: int, workers: int) -> None:
    """Wait until the server's ``workers`` processes have all finished starting (each nearly idle for 0.5 s).
    ``wait_healthy`` returns when the *first* worker answers; clients connecting before the second accepts all
    land on the first and keep their connections for the whole run. This removes that start-up race only: on
    the shared socket the first worker awake still accepts every connection waiting, so the split stays
    uneven (``connections_per_worker``; docs/benchmarks.md, "Create path (issue 7, createlean2)")."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        parents = {int(e): st for e in os.listdir("/proc") if e.isdigit() and (st := _stat(int(e))) is not None}
        kids = [pid for pid, (pp, _) in parents.items() if pp == root]
        if len(kids) >= workers:
            before = {pid: parents[pid][1] for pid in kids}
            await asyncio.sleep(0.5)
            after = {pid: st[1] for pid in kids if (st := _stat(pid)) is not None}
            if all(after.get(pid, 1.0) - cpu < 0.05 for pid, cpu in before.items()):
                return
        else:
            await asyncio.sleep(0.2)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


# --- CPU accounting from /proc ------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and all its descendants (the uvicorn supervisor and its workers)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            parents[int(entry)], cpu[int(entry)] = st
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo += [p for p, pp in parents.items() if pp == pid]
    return total


def connections_per_worker(root: int, port: int) -> list[int]:
    """Established connections to ``port`` held by each process under ``root``, largest first. The workers share
    one listening socket and the first awake accepts every connection waiting, so a bench's keep-alive clients
    rarely split evenly; a worker's clients queue behind each other, so the split sets the latency
    (docs/benchmarks.md, "Create path (issue 7, createlean2)")."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) == port:  # ESTABLISHED, our side
                    inodes.add(f"socket:[{f[9]}]")
    parents = {int(e): st[0] for e in os.listdir("/proc") if e.isdigit() and (st := _stat(int(e))) is not None}
    counts, todo = [], [root]
    while todo:
        pid = todo.pop()
        todo += [p for p, pp in parents.items() if pp == pid]
        with contextlib.suppress(OSError):
            n = sum(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in os.listdir(f"/proc/{pid}/fd"))
            if n:
                counts.append(n)
    return sorted(counts, reverse=True)


def postgres_cpu(dbname: str) -> dict[int, float]:
    """CPU seconds per PostgreSQL process serving ``dbname``, plus its shared helpers (WAL writer, checkpointer,
    background writer, autovacuum), which work for every database on the server."""
    out: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if not cmd.startswith(b"postgres:"):
            continue
        helper = any(k in cmd for k in (b"walwriter", b"checkpointer", b"background writer", b"autovacuum"))
        if helper or f" {dbname} ".encode() in cmd:
            st = _stat(int(entry))
            if st is not None:
                out[int(entry)] = st[1]
    return out


def loadgen_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# --- a lean HTTP/1.1 client (keep-alive, Content-Length bodies) ---------------------------------------------


class Conn:
    def __init__(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.port, self.reader, self.writer = port, reader, writer
        self.host = f"Host: 127.0.0.1:{port}\r\n".encode()
        self.last = time.monotonic()

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(port, reader, writer)

    def close(self) -> None:
        self.writer.close()

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: bytes = b""
    ) -> tuple[int, bytes, bytes]:
        """→ (status, body, raw head). Reconnects first when idle for 2 s: the server closes idle connections
        after 5 s, and on a loaded machine this loop may write well after it checked."""
        if time.monotonic() - self.last > 2:
            self.close()
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            b"%s %s HTTP/1.1\r\n%s%sContent-Length: %d\r\n\r\n%s"
            % (method.encode(), path.encode(), self.host, headers, len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lower = head.lower()
        i = lower.find(b"\r\ncontent-length:")
        if i >= 0:
            data = await self.reader.readexactly(int(lower[i + 17 : lower.find(b"\r\n", i + 2)]))
        elif b"transfer-encoding: chunked" in lower:
            parts = []
            while size := int((await self.reader.readuntil(b"\r\n"))[:-2], 16):
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            await self.reader.readexactly(2)
            data = b"".join(parts)
        else:
            data = b""
        self.last = time.monotonic()
        return int(head[9:12]), data, head


def error_code(status: int, body: bytes) -> str:
    m = re.search(rb'"code":"([a-z_]+)"', body)
    return f"{status}:{m.group(1).decode() if m else ''}"


# --- the two modes ------------------------------------------------------------------------------------------


class Run:
    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.all_warm = asyncio.Event()
        self.lat: dict[str, list[float]] = {}
        self.errors: Counter[str] = Counter()
        self.orders = 0
        self.polls = 0
        self.sold_out_answers = 0
        self.sold_out = False
        self.warmed = 0  # clients done with their warm-up purchase (or gone)
        # --timeline: (order id, trade number, 303 received, paid answer received) per timed paid order, wall clock
        self.timeline: list[tuple[str, str, float, float]] | None = None

    def warm(self) -> None:
        self.warmed += 1
        if self.warmed >= self.clients:
            self.all_warm.set()

    def took(self, step: str, seconds: float) -> None:
        self.lat.setdefault(step, []).append(seconds)


CSRF_RE = re.compile(rb'name="csrf" value="([^"]+)"')
COOKIE_RE = re.compile(rb"(?i)\r\nset-cookie: (piaowu_session=[^;\r\n]+)")


async def wait_until_paid(conn: Conn, auth: bytes, order_id: str, run: Run, timed: bool) -> bytes:
    """Like a "waiting for payment" screen: one held status request (the push channel, ``?wait=``), answered
    when the payment's commit wakes it; a timeout answer (still pending) is simply asked again. The final
    answer carries the order (``with_order``): the page shows the tickets without another request. ``polls``
    counts the requests made. → the last answer's body."""
    path = f"/api/v1/orders/{order_id}/status?wait=20&with_order=true"
    for _ in range(30):
        status, body, _ = await conn.request("GET", path, b"", auth)
        run.polls += timed
        if status == 200 and body.startswith(b'{"id":') and b'"status":"paid"' in body[:80]:
            return body
        if status != 200 or b'"status":"pending"' not in body[:80]:
            break
    run.errors["poll " + error_code(status, body)] += 1
    return body


async def buyer(port: int, auth: bytes, order_body: bytes, mode: str, run: Run, start: asyncio.Event) -> None:
    conn = await Conn.open(port)
    gw = await Conn.open(GATEWAY.port) if GATEWAY.port else conn  # the buyer's browser on the gateway's site
    json_h = auth + b"Content-Type: application/json\r\n"
    gateway_h = b""
    first = True
    try:
        while not run.sold_out:
            if not first and not start.is_set():
                run.warm()
                await start.wait()
            timed = not first
            t0 = time.perf_counter()
            status, body, _ = await conn.request("POST", "/api/v1/orders", order_body, json_h)
            t1 = time.perf_counter()
            if status != 201:
                if status == 409 and b'"sold_out"' in body:
                    run.sold_out = True
                else:
                    run.errors[error_code(status, body)] += 1
                    if sum(run.errors.values()) > 1000:
                        run.sold_out = True  # something is badly wrong; stop rather than spin
                if run.sold_out:
                    break
                continue
            if timed:
                run.took("create", t1 - t0)
            if mode == "create":
                run.orders += timed
                first = False
                continue
            order_id = orjson.loads(body)["id"]
            status, body, _ = await conn.request(
                "POST", f"/api/v1/orders/{order_id}/payments",
                b'{"provider":"sandbox","return_url":"http://shop.invalid/back"}', json_h,
            )  # fmt: skip
            t2 = time.perf_counter()
            if status != 201:
                run.errors["payments " + error_code(status, body)] += 1
                continue
            trade_no = orjson.loads(body)["redirect_url"].rsplit("/", 1)[-1]
            if not gateway_h:  # the buyer's gateway session: a cookie and its CSRF token, once per client
                status, page, head = await on_gateway(gw, "GET", f"/sandbox-gateway/pay/{trade_no}")
                csrf, cookie = CSRF_RE.search(page), COOKIE_RE.search(head)
                assert status == 200 and csrf and cookie, (status, head[:300])
                form = b"csrf=" + csrf.group(1)
                gateway_h = b"Cookie: " + cookie.group(1) + b"\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            t2 = time.perf_counter()
            status, body, _ = await on_gateway(gw, "POST", f"/sandbox-gateway/pay/{trade_no}/confirm", form, gateway_h)
            t3, w3 = time.perf_counter(), time.time()
            if status != 303:
                run.errors["gateway " + error_code(status, body)] += 1
                continue
            body = await wait_until_paid(conn, auth, order_id, run, timed)  # the paid order, tickets included
            t4 = time.perf_counter()
            if timed and run.timeline is not None:
                run.timeline.append((order_id, trade_no, w3, time.time()))
            if b'"ticket":null' in body or b'"ticket":{' not in body:
                run.errors["paid without tickets"] += 1
            if timed:
                run.took("start_payment", t2 - t1)
                run.took("gateway_pay", t3 - t2)
                run.took("until_paid", t4 - t3)
                run.took("total", t4 - t0)
                run.orders += 1
            first = False
    finally:
        if first or not start.is_set():
            run.warm()
        conn.close()
        if gw is not conn:
            gw.close()


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    v = sorted(values)

    def at(p: float) -> float:
        return round(v[min(len(v) - 1, int(p * len(v)))] * 1000, 2)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(v[-1] * 1000, 2)}


async def check_books(dsn: str, ticket_type_id: str) -> dict[str, int]:
    """Oversold is checked in the database: held + sold vs capacity, and sold vs the paid tickets (lines)."""
    return await check_books_many(dsn, [ticket_type_id])


async def check_books_many(dsn: str, ticket_type_ids: list[str], *, after: bool = False) -> dict[str, int]:
    """``check_books`` summed over several sessions (spread, browse), on one connection; plus the database's
    transaction and (when pg_stat_statements is loaded) statement counters. The counters are read after the
    books' own queries, or — ``after`` a timed part — before them: the check's queries (4 per session: 800 for
    spread's 200 sessions, 0.16 per order) never count in the figures."""
    conn = await asyncpg.connect(dsn)
    try:
        total: Counter[str] = Counter()
        if after:
            total.update(await _counters(conn))
        for tt in ticket_type_ids:
            total.update(await _books(conn, tt))
        if not after:
            total.update(await _counters(conn))
    finally:
        await conn.close()
    return dict(total)


async def _counters(conn: asyncpg.Connection) -> dict[str, int]:
    xacts, sessions = await conn.fetchrow(
        "select xact_commit + xact_rollback, sessions from pg_stat_database where datname = current_database()"
    )
    return {"xacts": xacts, "sessions": sessions, "statements": await _statements(conn)}


async def _statements(conn: asyncpg.Connection) -> int:
    """Statements run in this database so far (pg_stat_statements), or -1 when the extension is not loaded
    (it needs ``shared_preload_libraries``: a server restart, which the bench does not do)."""
    try:
        await conn.execute("create extension if not exists pg_stat_statements")
        return int(
            await conn.fetchval(
                "select coalesce(sum(calls), 0) from pg_stat_statements "
                "where dbid = (select oid from pg_database where datname = current_database())"
            )
        )
    except asyncpg.PostgresError:
        return -1


async def _books(conn: asyncpg.Connection, ticket_type_id: str) -> dict[str, int]:
    pool = await conn.fetchrow(
        "select p.id, p.capacity, p.held, p.sold from inventory_pools p "
        "join sessions s on s.pool_id = p.id join ticket_types t on t.session_id = s.id where t.id = $1",
        ticket_type_id,
    )
    paid_lines = await conn.fetchval(
        "select count(*) from order_lines l join orders o on o.id = l.order_id "
        "where l.ticket_type_id = $1 and l.status = 'active' and o.status in ('paid', 'partially_refunded')",
        ticket_type_id,
    )
    held_rows = await conn.fetchval(
        "select coalesce(sum(i.quantity), 0) from inventory_hold_items i "
        "join inventory_holds h on h.id = i.hold_id where i.pool_id = $1 and h.status = 'active'",
        pool["id"],
    )
    tickets = await conn.fetchval(
        "select count(*) from tickets t join order_lines l on l.id = t.order_line_id where l.ticket_type_id = $1",
        ticket_type_id,
    )
    return {
        "capacity": pool["capacity"],
        "held": pool["held"],
        "sold": pool["sold"],
        "paid_lines": paid_lines,
        "tickets": tickets,
        "oversold": max(0, pool["held"] + pool["sold"] - pool["capacity"]) + abs(pool["sold"] - paid_lines),
        "held_mismatch": abs(pool["held"] - held_rows),
    }


def cpu_snapshot(procs: dict[str, int], dbname: str) -> dict[str, Any]:
    """CPU seconds so far of each process tree in ``procs`` (the server; a separate gateway if one was started),
    of PostgreSQL's processes, of this load generator and of its finished children (wrk)."""
    snap: dict[str, Any] = {name: tree_cpu(pid) for name, pid in procs.items()}
    snap["postgres"] = postgres_cpu(dbname)
    snap["loadgen"] = loadgen_cpu()
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    snap["wrk"] = r.ru_utime + r.ru_stime
    return snap


def cpu_used(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """Seconds of CPU per process between two snapshots; PostgreSQL's backends that started in between count
    from zero."""
    used = {k: after[k] - before[k] for k in after if k not in ("postgres", "wrk")}
    used["postgres"] = sum(v - before["postgres"].get(pid, 0.0) for pid, v in after["postgres"].items())
    used["loadgen"] += after["wrk"] - before["wrk"]  # the load generator is this script plus wrk, if it ran
    return used


def per(n: float, cpu: dict[str, float]) -> dict[str, float]:
    return {k: round(v * 1000 / max(n, 1), 3) for k, v in cpu.items()}


def db_counts_per(n: float, before: dict[str, int], after: dict[str, int]) -> dict[str, float | None]:
    statements = None
    if before["statements"] >= 0 and after["statements"] >= 0:
        statements = round((after["statements"] - before["statements"]) / max(n, 1), 2)
    return {
        "db_transactions_per_order": round((after["xacts"] - before["xacts"]) / max(n, 1), 2),
        "db_statements_per_order": statements,  # None: pg_stat_statements is not loaded on this server
        # connections opened (PostgreSQL forks a backend for each; a new connection prepares every statement again)
        "db_sessions_per_order": round((after["sessions"] - before["sessions"]) / max(n, 1), 3),
    }


async def run_mode(
    mode: str, port: int, token: str, tt_ids: list[str], clients: int, dsn: str, dbname: str, procs: dict[str, int]
) -> dict[str, Any]:
    """create / paid: every client buys from the one session ``tt_ids[0]``; spread: from any of ``tt_ids``."""
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n"
    bodies = [orjson.dumps({"items": [{"ticket_type_id": tt, "quantity": 1}], "buyer": BUYER}) for tt in tt_ids]
    run, start = Run(clients), asyncio.Event()
    trace = os.environ.get(TRACE_ENV)
    if trace and mode == "paid":
        run.timeline = []
    if mode == "spread":
        open_sessions = set(range(len(bodies)))
        tasks = [
            asyncio.create_task(spread_buyer(port, auth, bodies, open_sessions, run, start)) for _ in range(clients)
        ]
    else:
        tasks = [asyncio.create_task(buyer(port, auth, bodies[0], mode, run, start)) for _ in range(clients)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run.all_warm.wait(), 60)
    books_before, cpu_before = await check_books_many(dsn, tt_ids), cpu_snapshot(procs, dbname)
    split = connections_per_worker(procs["server"], port)
    t0 = time.perf_counter()
    start.set()
    if run.timeline is not None:
        stop = asyncio.Event()
        sampler = asyncio.create_task(timeline.sample_waits(dsn, dbname, stop))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    waits = None
    if run.timeline is not None:
        stop.set()
        waits = await sampler
    cpu = cpu_used(cpu_before, cpu_snapshot(procs, dbname))
    books = await check_books_many(dsn, tt_ids, after=True)
    n = max(run.orders, 1)
    return {
        "mode": mode,
        "clients": clients,
        "sessions": len(tt_ids),
        "orders": run.orders,
        "seconds": round(elapsed, 3),
        "orders_per_s": round(run.orders / elapsed, 1),
        "latency_ms": {step: percentiles(v) for step, v in run.lat.items()},
        "connections_per_worker": split,
        "errors": dict(run.errors),
        "sold_out_answers": run.sold_out_answers if mode == "spread" else None,
        "polls_per_order": round(run.polls / n, 2) if mode == "paid" else None,
        "cpu_ms_per_order": per(n, cpu),
        **db_counts_per(n, books_before, books),
        "books": {k: books[k] for k in ("capacity", "held", "sold", "paid_lines", "tickets")},
        "oversold": books["oversold"],
        "held_mismatch": books["held_mismatch"],
        "loadavg_1m": round(os.getloadavg()[0], 2),
        **({"timeline": {**timeline.report(Path(trace), run.timeline), "pg_activity": waits}} if waits else {}),
    }


async def spread_buyer(
    port: int, auth: bytes, bodies: list[bytes], open_sessions: set[int], run: Run, start: asyncio.Event
) -> None:
    """Spread mode: each order goes to a random session still on sale, until every session is sold out. No
    single hot row: what is measured is the cost of a request."""
    conn = await Conn.open(port)
    json_h = auth + b"Content-Type: application/json\r\n"
    rnd = random.Random()
    first = True
    try:
        while open_sessions and sum(run.errors.values()) <= 1000:
            if not first and not start.is_set():
                run.warm()
                await start.wait()
                if not open_sessions:
                    break
            i = rnd.choice(tuple(open_sessions))
            t0 = time.perf_counter()
            try:
                status, body, _ = await conn.request("POST", "/api/v1/orders", bodies[i], json_h)
            except (ConnectionError, asyncio.IncompleteReadError):
                # The server drops the connection after an unhandled error (e.g. PostgreSQL out of connections
                # on a shared machine): count it, reconnect, go on.
                run.errors["connection dropped"] += 1
                conn.close()
                conn = await Conn.open(port)
                continue
            t1 = time.perf_counter()
            if status == 201:
                if not first:
                    run.took("create", t1 - t0)
                    run.orders += 1
                first = False
            elif status == 409 and b'"sold_out"' in body:
                open_sessions.discard(i)
                run.sold_out_answers += 1
            else:
                run.errors[error_code(status, body)] += 1
    finally:
        if first or not start.is_set():
            run.warm()
        conn.close()


# --- browse: what a buyer's page loads while the sale runs ------------------------------------------------

WRK_MISSING = "wrk not found: the browse mode needs it as its lean load generator (Debian: apt-get install -y wrk)"
_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(out: str) -> dict[str, Any]:
    """Requests/s, latency percentiles (ms), and what wrk counted as errors, from ``wrk --latency`` output."""
    lat = {}
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M):
        lat[f"p{pct}"] = round(float(value) * _WRK_UNITS[unit], 2)
    errors: dict[str, int] = {}
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors["non_2xx"] = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors.update(
            {k: int(v) for k, v in zip(("connect", "read", "write", "timeout"), m.groups(), strict=True) if int(v)}
        )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "per_s": float(rate.group(1)) if rate else 0.0,
        "requests": int(total.group(1)) if total else 0,
        "latency_ms": lat,
        "errors": errors,
    }


async def sale_loop(port: int, auth: bytes, body: bytes, pause: float, stop: asyncio.Event, count: list[int]) -> None:
    """The sale that runs meanwhile: one buyer creating orders on the browsed session, ``pause`` s apart."""
    conn = await Conn.open(port)
    json_h = auth + b"Content-Type: application/json\r\n"
    try:
        while not stop.is_set():
            try:
                status, _, _ = await conn.request("POST", "/api/v1/orders", body, json_h)
            except (ConnectionError, asyncio.IncompleteReadError):
                count[1] += 1
                conn.close()
                conn = await Conn.open(port)
                continue
            count[0] += status == 201
            count[1] += status != 201
            await asyncio.sleep(pause)
    finally:
        conn.close()


async def buy_out_and_watch(port: int, auth: bytes, slug: str, session_id: str, tt_id: str) -> dict[str, Any]:
    """Buys a session out, then asks its availability JSON and its page, each over 4 connections (the workers
    each have their own cache), until every one says it is no longer buyable. → the time from the last order's answer
    (the units were all taken at its commit, a little earlier) until the last connection saw it, per resource:
    an upper bound of the staleness."""
    conn = await Conn.open(port)
    json_h = auth + b"Content-Type: application/json\r\n"
    body = orjson.dumps({"items": [{"ticket_type_id": tt_id, "quantity": 1}], "buyer": BUYER})
    last = time.perf_counter()
    while True:
        status, answer, _ = await conn.request("POST", "/api/v1/orders", body, json_h)
        if status == 201:
            last = time.perf_counter()
        elif status == 409 and b'"sold_out"' in answer:
            break
        else:
            conn.close()
            return {"error": error_code(status, answer)}
    conn.close()
    paths = {
        "availability": (f"/api/v1/shop/{slug}/sessions/{session_id}/availability", b'"buyable":false'),
        "page": (f"/s/{slug}/sessions/{session_id}", b"state-notice"),
    }
    seen: dict[str, float] = {}

    async def watch(name: str, k: int) -> None:
        # One connection per resource and watcher, so that neither waits for the other's answer.
        path, mark = paths[name]
        c = await Conn.open(port)
        try:
            while time.perf_counter() - last < 5:
                status, page, _ = await c.request("GET", path)
                if status == 200 and mark in page:
                    seen[f"{name}:{k}"] = time.perf_counter() - last
                    break
                await asyncio.sleep(0.01)
        finally:
            c.close()

    await asyncio.gather(*(watch(name, k) for name in paths for k in range(4)))
    out: dict[str, Any] = {}
    for name in paths:
        times = [v for key, v in seen.items() if key.startswith(name + ":")]
        out[f"{name}_ms"] = round(max(times) * 1000, 1) if len(times) == 4 else None  # None: stale after 5 s
    return out


async def run_browse(
    port: int, token: str, slug: str, sale: tuple[str, str], watched: list[tuple[str, str]], args: argparse.Namespace,
    dsn: str, dbname: str, procs: dict[str, int],
) -> dict[str, Any]:  # fmt: skip
    """wrk asks the availability JSON of the session on sale, then its page, ``--browse-seconds`` each, while a
    buyer keeps buying from it; halfway through each, another session is bought out and the time until its JSON
    and its page say so is measured (``staleness_ms``)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"mode": "browse", "error": WRK_MISSING}
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n"
    tt_ids = [sale[1]] + [tt for _, tt in watched]
    stop, count = asyncio.Event(), [0, 0]
    sale_body = orjson.dumps({"items": [{"ticket_type_id": sale[1], "quantity": 1}], "buyer": BUYER})
    sellers = [
        asyncio.create_task(sale_loop(port, auth, sale_body, args.browse_pause, stop, count))
        for _ in range(args.browse_buyers)
    ]
    targets = {
        "availability": f"/api/v1/shop/{slug}/sessions/{sale[0]}/availability",
        "page": f"/s/{slug}/sessions/{sale[0]}",
    }
    result: dict[str, Any] = {"mode": "browse", "connections": args.browse_connections}
    lat, errors, staleness, cpu_per, db_per = {}, {}, [], {}, {}
    t_sale = time.perf_counter()
    for (name, path), (sid, tt) in zip(targets.items(), watched, strict=True):
        books_before, cpu_before = await check_books_many(dsn, tt_ids), cpu_snapshot(procs, dbname)
        cmd = [wrk, "-t1", f"-c{args.browse_connections}", f"-d{args.browse_seconds}s", "--latency"]
        proc = await asyncio.create_subprocess_exec(
            *cmd, f"http://127.0.0.1:{port}{path}", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        await asyncio.sleep(args.browse_seconds / 2)
        staleness.append(await buy_out_and_watch(port, auth, slug, sid, tt))
        out = (await proc.communicate())[0].decode(errors="replace")
        cpu = cpu_used(cpu_before, cpu_snapshot(procs, dbname))
        books_after = await check_books_many(dsn, tt_ids, after=True)
        w = parse_wrk(out)
        if not w["requests"]:
            errors[name] = {"wrk": out[-500:]}
        result[f"{name}_per_s" if name == "availability" else "pages_per_s"] = round(w["per_s"], 1)
        lat[name] = w["latency_ms"]
        if w["errors"]:
            errors[name] = w["errors"]
        cpu_per[name] = per(w["requests"], cpu)
        db_per[name] = db_counts_per(w["requests"], books_before, books_after)
    stop.set()
    await asyncio.gather(*sellers)
    sale_seconds = time.perf_counter() - t_sale
    books = await check_books_many(dsn, tt_ids, after=True)
    result.update(
        {
            "latency_ms": lat,
            "errors": errors,
            # Per bought-out session (one during each wrk run): until every connection saw it not buyable.
            "staleness_ms": {k: max((s.get(k) or 10_000.0) for s in staleness) for k in ("availability_ms", "page_ms")},
            "staleness_runs": staleness,
            "staleness_within_1s": all((v or 10_000.0) <= 1000 for run in staleness for v in run.values()),
            "sale_orders_per_s": round(count[0] / sale_seconds, 1),
            "sale_refusals": count[1],
            "cpu_ms_per_request": cpu_per,
            "db_per_request": {
                k: {"transactions": v["db_transactions_per_order"], "statements": v["db_statements_per_order"]}
                for k, v in db_per.items()
            },
            "books": {k: books[k] for k in ("capacity", "held", "sold")},
            "oversold": books["oversold"],
            "held_mismatch": books["held_mismatch"],
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
    )
    return result


# --- pgbench ------------------------------------------------------------------------------------------------


def pgbench_tps(seconds: int = 20) -> float:
    name = f"piaowu_pgbench_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    conn = ["-h", "127.0.0.1", "-U", "postgres"]
    try:
        subprocess.run(["pgbench", "-i", "-s", "10", "-q", *conn, name], check=True, capture_output=True)
        out = subprocess.run(
            ["pgbench", "-c", "16", "-j", "2", "-T", str(seconds), *conn, name],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    return float(m.group(1)) if m else 0.0


# --- main ---------------------------------------------------------------------------------------------------

MODES = ("create", "paid", "spread", "browse")
SPREAD_EVENTS = 5  # the spread mode's sessions belong to this many events
BROWSE_WATCHED_UNITS = 20  # each session bought out during a browse run


async def bench(args: argparse.Namespace, modes: list[str], workers: int) -> list[dict[str, Any]]:
    from piaowu.db.migrate import upgrade_async

    dbname = f"piaowu_bench_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{dbname}"')
    proc = None
    try:
        with tempfile.TemporaryDirectory(prefix="piaowu-bench-") as tmp:
            var, secret = Path(tmp), secrets.token_urlsafe(32)
            db_url = pg_url(dbname, "postgresql+asyncpg")
            await upgrade_async(db_url)
            units = {"create": args.units, "paid": args.paid_units or args.units}
            token, types = await seed(db_url, var, secret, units, [m for m in modes if m in units])
            sessions: dict[str, list[tuple[str, str]]] = {}
            if "spread" in modes:
                per_session = max(1, (args.spread_units or args.units) // args.spread_sessions)
                sessions["spread"] = await seed_sessions(
                    db_url, var, secret, "spread", SPREAD_EVENTS, args.spread_sessions, per_session
                )
            if "browse" in modes:
                sessions["browse"] = await seed_sessions(db_url, var, secret, "browse", 1, 1, args.browse_units)
                sessions["browse"] += await seed_sessions(db_url, var, secret, "watched", 1, 2, BROWSE_WATCHED_UNITS)
            if args.timeline:  # every process started below writes its events there (timeline_hooks/)
                (var / "trace").mkdir()
                os.environ[TRACE_ENV] = str(var / "trace")
                os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HOOKS), os.environ.get("PYTHONPATH")]))
            port = free_port()
            if "paid" in modes:  # the sandbox gateway in a process of its own, as a real gateway would be
                start_gateway(db_url, var, secret, port)
            proc = start_server(db_url, var, secret, port, workers, dict(kv.split("=", 1) for kv in args.server_env))
            await wait_healthy(port, proc, var)
            if workers > 1:
                await wait_workers_settled(proc.pid, workers)
            # Process trees whose CPU is reported on lines of their own: a real gateway's CPU is not the shop's.
            procs = {"server": proc.pid}
            if GATEWAY.proc is not None:
                await wait_healthy(GATEWAY.port, GATEWAY.proc, var)
                procs["gateway"] = GATEWAY.proc.pid
            dsn = pg_url(dbname)
            results = []
            try:
                for mode in modes:
                    if mode == "browse":
                        sale, *watched = sessions["browse"]
                        r = await run_browse(port, token, "bench", sale, watched, args, dsn, dbname, procs)
                    else:
                        tt_ids = [tt for _, tt in sessions[mode]] if mode == "spread" else [types[mode]]
                        r = await run_mode(mode, port, token, tt_ids, args.clients, dsn, dbname, procs)
                    results.append({"workers": workers, **r})
            finally:  # also when a mode failed: the log says why
                if args.keep_log:
                    shutil.copy(var / "server.log", args.keep_log)
            return results
    finally:
        if proc is not None:
            stop_server(proc)
        stop_gateway()
        await admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def compare_workers(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Which worker count wins each mode's main figure (for --workers 1,2)."""
    out: dict[str, Any] = {"mode": "workers_compared"}
    for key in ("orders_per_s", "availability_per_s", "pages_per_s"):
        for mode in MODES:
            rows = [r for r in results if r["mode"] == mode and r.get(key) is not None]
            if len(rows) > 1:
                best = max(rows, key=lambda r: r[key])
                out[f"{mode}.{key}"] = {"best_workers": best["workers"], **{str(r["workers"]): r[key] for r in rows}}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--paid-units", type=int, help="units of the paid mode's session (default: --units)")
    parser.add_argument(
        "--mode", choices=[*MODES, "both", "all"], default="both", help="both = create + paid; all = every mode"
    )
    parser.add_argument("--workers", default="2", help="server workers; a list (1,2) runs everything per count")
    parser.add_argument("--spread-sessions", type=int, default=200)
    parser.add_argument("--spread-units", type=int, help="units over all spread sessions (default: --units)")
    parser.add_argument("--browse-seconds", type=int, default=10, help="each wrk run (availability, page)")
    parser.add_argument("--browse-connections", type=int, default=32)
    parser.add_argument("--browse-units", type=int, default=100_000, help="the browsed session's capacity")
    parser.add_argument("--browse-buyers", type=int, default=2, help="buyers buying while the pages are read")
    parser.add_argument("--browse-pause", type=float, default=0.02, help="seconds between a browse buyer's orders")
    parser.add_argument("--skip-pgbench", action="store_true", help="no pgbench reference run (CI smoke)")
    parser.add_argument("--pgbench-seconds", type=int, default=20)
    parser.add_argument("--keep-log", help="copy the server log here")
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="paid mode: per-order timestamps of each step from inside the server and the gateway (bench/timeline.py)",
    )
    parser.add_argument(
        "--server-env", action="append", default=[], metavar="PIAOWU_X=VALUE", help="a setting of the server (repeat)"
    )
    args = parser.parse_args()
    modes = {"both": ["create", "paid"], "all": list(MODES)}.get(args.mode, [args.mode])
    worker_counts = [int(w) for w in str(args.workers).split(",")]
    if "browse" in modes and shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt  # so that the server is stopped and the databases dropped

    signal.signal(signal.SIGTERM, interrupted)
    load_before = round(os.getloadavg()[0], 2)
    tps = None if args.skip_pgbench else pgbench_tps(args.pgbench_seconds)
    results = [r for w in worker_counts for r in asyncio.run(bench(args, modes, w))]
    bad = False
    for r in results:
        r["loadavg_1m_before"] = load_before
        if tps:
            r["pgbench_tps"] = round(tps, 1)
            for key in ("orders_per_s", "availability_per_s", "pages_per_s"):
                if key in r:
                    name = "ratio_to_pgbench" if key == "orders_per_s" else f"{key[:-6]}_ratio_to_pgbench"
                    r[name] = round(r[key] / tps, 3)
        bad |= bool(r.get("oversold") or r.get("held_mismatch") or r.get("error"))
        print(json.dumps(r, ensure_ascii=False), flush=True)
    if len(worker_counts) > 1:
        print(json.dumps(compare_workers(results), ensure_ascii=False), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
