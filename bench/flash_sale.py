"""Flash sale benchmark: N concurrent clients buy 1-ticket orders from one session until it is sold out.

    .venv/bin/python bench/flash_sale.py [--clients 64] [--units 5000] [--mode create|paid|both] [--skip-pgbench]

It creates its own PostgreSQL database (dropped at the end), migrates it, seeds an organizer, an API token and
one session of ``--units`` units per mode, starts ``piaowu serve`` with 2 workers (background jobs on: the
sandbox gateway's notification is delivered by the outbox worker inside the server), then drives it:

- ``create``: POST /api/v1/orders until 409 sold_out;
- ``paid``: create → POST /orders/{id}/payments → the buyer pays on the gateway's hosted page (its form, with
  the CSRF token of the client's gateway session) → GET /orders/{id}/status?wait=20 (held until the payment's
  commit wakes it; asked again on a timeout) until paid, then GET /orders/{id} once: tickets issued.

Prints one JSON line per mode (orders/s, latency percentiles per step, errors by code, CPU per order of the
server, of PostgreSQL and of this load generator, transactions per order, ``oversold`` checked in the database)
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_url: str, var: Path, secret: str, port: int, workers: int) -> subprocess.Popen[bytes]:
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
    deadline = time.monotonic() + 60
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
        """→ (status, body, raw head). Reconnects first when idle longer than the server's keep-alive."""
        if time.monotonic() - self.last > 4:
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
        self.sold_out = False
        self.warmed = 0  # clients done with their warm-up purchase (or gone)

    def warm(self) -> None:
        self.warmed += 1
        if self.warmed >= self.clients:
            self.all_warm.set()

    def took(self, step: str, seconds: float) -> None:
        self.lat.setdefault(step, []).append(seconds)


CSRF_RE = re.compile(rb'name="csrf" value="([^"]+)"')
COOKIE_RE = re.compile(rb"(?i)\r\nset-cookie: (piaowu_session=[^;\r\n]+)")


async def wait_until_paid(conn: Conn, auth: bytes, order_id: str, run: Run, timed: bool) -> None:
    """Like a "waiting for payment" screen: one held status request (the push channel, ``?wait=``), answered
    when the payment's commit wakes it; a timeout answer (still pending) is simply asked again. ``polls``
    counts the requests made."""
    path = f"/api/v1/orders/{order_id}/status?wait=20"
    for _ in range(30):
        status, body, _ = await conn.request("GET", path, b"", auth)
        run.polls += timed
        if status == 200 and b'"status":"paid"' in body:
            return
        if status != 200 or b'"status":"pending"' not in body:
            break
    run.errors["poll " + error_code(status, body)] += 1


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
            t3 = time.perf_counter()
            if status != 303:
                run.errors["gateway " + error_code(status, body)] += 1
                continue
            await wait_until_paid(conn, auth, order_id, run, timed)
            status, body, _ = await conn.request("GET", f"/api/v1/orders/{order_id}", b"", auth)
            t4 = time.perf_counter()
            if b'"ticket":null' in body:
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
    conn = await asyncpg.connect(dsn)
    try:
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
        xacts = await conn.fetchval(
            "select xact_commit + xact_rollback from pg_stat_database where datname = current_database()"
        )
    finally:
        await conn.close()
    return {
        "capacity": pool["capacity"],
        "held": pool["held"],
        "sold": pool["sold"],
        "paid_lines": paid_lines,
        "tickets": tickets,
        "oversold": max(0, pool["held"] + pool["sold"] - pool["capacity"]) + abs(pool["sold"] - paid_lines),
        "held_mismatch": abs(pool["held"] - held_rows),
        "xacts": xacts,
    }


async def run_mode(
    mode: str, port: int, token: str, tt_id: str, clients: int, dsn: str, dbname: str, server_pid: int
) -> dict[str, Any]:
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n"
    body = orjson.dumps({"items": [{"ticket_type_id": tt_id, "quantity": 1}], "buyer": BUYER})
    run, start = Run(clients), asyncio.Event()
    tasks = [asyncio.create_task(buyer(port, auth, body, mode, run, start)) for _ in range(clients)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run.all_warm.wait(), 60)
    before = (await check_books(dsn, tt_id))["xacts"], tree_cpu(server_pid), postgres_cpu(dbname), loadgen_cpu()
    gateway_before = gateway_cpu()
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    books = await check_books(dsn, tt_id)
    pg_after = postgres_cpu(dbname)
    n = max(run.orders, 1)
    cpu = {
        "server": tree_cpu(server_pid) - before[1],
        "postgres": sum(v - before[2].get(pid, 0.0) for pid, v in pg_after.items()),
        "loadgen": loadgen_cpu() - before[3],
    }
    if GATEWAY.proc is not None:  # its own line: a real gateway's CPU is not the shop's
        cpu["gateway"] = gateway_cpu() - gateway_before
    return {
        "mode": mode,
        "clients": clients,
        "orders": run.orders,
        "seconds": round(elapsed, 3),
        "orders_per_s": round(run.orders / elapsed, 1),
        "latency_ms": {step: percentiles(v) for step, v in run.lat.items()},
        "errors": dict(run.errors),
        "polls_per_order": round(run.polls / n, 2) if mode == "paid" else None,
        "cpu_ms_per_order": {k: round(v * 1000 / n, 3) for k, v in cpu.items()},
        "db_transactions_per_order": round((books["xacts"] - before[0]) / n, 2),
        "books": {k: books[k] for k in ("capacity", "held", "sold", "paid_lines", "tickets")},
        "oversold": books["oversold"],
        "held_mismatch": books["held_mismatch"],
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


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


async def bench(args: argparse.Namespace, modes: list[str]) -> list[dict[str, Any]]:
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
            token, types = await seed(db_url, var, secret, units, modes)
            port = free_port()
            if "paid" in modes:
                start_gateway(db_url, var, secret, port)
            proc = start_server(db_url, var, secret, port, args.workers)
            await wait_healthy(port, proc, var)
            if GATEWAY.proc is not None:
                await wait_healthy(GATEWAY.port, GATEWAY.proc, var)
            results = []
            for mode in modes:
                results.append(
                    await run_mode(mode, port, token, types[mode], args.clients, pg_url(dbname), dbname, proc.pid)
                )
            if args.keep_log:
                shutil.copy(var / "server.log", args.keep_log)
            return results
    finally:
        if proc is not None:
            stop_server(proc)
        stop_gateway()
        await admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--paid-units", type=int, help="units of the paid mode's session (default: --units)")
    parser.add_argument("--mode", choices=["create", "paid", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-pgbench", action="store_true", help="no pgbench reference run (CI smoke)")
    parser.add_argument("--pgbench-seconds", type=int, default=20)
    parser.add_argument("--keep-log", help="copy the server log here")
    args = parser.parse_args()
    modes = ["create", "paid"] if args.mode == "both" else [args.mode]

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt  # so that the server is stopped and the databases dropped

    signal.signal(signal.SIGTERM, interrupted)
    tps = None if args.skip_pgbench else pgbench_tps(args.pgbench_seconds)
    results = asyncio.run(bench(args, modes))
    bad = False
    for r in results:
        if tps:
            r["pgbench_tps"] = round(tps, 1)
            r["ratio_to_pgbench"] = round(r["orders_per_s"] / tps, 3)
        bad |= bool(r["oversold"] or r["held_mismatch"])
        print(json.dumps(r, ensure_ascii=False), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
