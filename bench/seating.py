"""Seating benchmark: an 80,000-seat stadium on PostgreSQL — best available, seat orders through the API, and the
availability a seat picker loads.

    .venv/bin/python bench/seating.py [--seats 80000] [--orders 3000] [--clients 16,64] [--warmup 20]
                                      [--delta-sales 50] [--fill 0.6] [--skip-pgbench]
                                      [--parts alloc,orders,availability]

It creates its own PostgreSQL database (dropped at the end), migrates it and seeds, through the real services
(``layout_service.save_layout``, ``session_seating.assign_layout``, ``set_zone_prices``), an on-sale session
whose map is ``seating_alloc.stadium`` (32 arc sections, 4 zones; ``--seats`` smaller for a smoke run: fewer
rows and sections), one ticket type priced in every zone. Then, one JSON line per part:

- ``seed``: the time to save the layout and to assign it (one unit and one session seat per seat).
- ``alloc``: the house filled from empty to full by best-available requests (1–14 seats, a random zone that
  still has seats, together if possible, else split — a second request), each through the resolver's own path
  in this process: ``SeatResolver.load`` (offers, the session's seats, zone prices, and the live snapshot,
  re-read from the database when older than ``session_live.SNAPSHOT_SECONDS``) then ``resolve`` (the choice on the
  ``SeatIndex``, marking the seats taken). After each request the chosen seats' units get their occupied bit in
  the database (what the order's claim does; not timed), so each snapshot re-read sees the house as it is.
  ``request_ms`` is what a buyer's order waits for in the resolver; ``resolve_ms`` the in-memory choice;
  ``refresh_ms`` the requests during which the view was re-read (paid by the request before the background
  refresher; since, a refresher read that finished while the request awaited). Afterwards the bits are
  cleared again.
- ``orders`` (one line per ``--clients`` count): ``piaowu serve`` (2 workers) and N concurrent buyers placing
  ``--orders`` shop orders (``POST /api/v1/shop/{slug}/orders``, product ``seat``) of 1–4 seats: half pick
  random free seats from the availability they read just before (``seat-availability?since=``, so some collide:
  ``seat_taken``, counted), half ask for the best available. Timed after ``--warmup`` orders per buyer
  (``warmup_orders`` in all): the rate of a server that has been selling, not of its first minute. PostgreSQL plans
  a prepared statement afresh for its first five runs on each connection before it settles on a generic plan, and
  a seat order's statement has a shape per seat count and zones (~10 shapes, 1.3–3 ms a plan on this machine):
  with 2 workers × 4 connections that is ~500 plans, which a 1,500-order window started after one order per
  buyer paid as ~0.6 ms of PostgreSQL's CPU per order (docs/benchmarks.md, "Seat orders in steady state").
  Orders/s, its ratio to pgbench's TPS in the same run, latency percentiles per step, refusals by code, CPU per
  order of the server, PostgreSQL and this load generator, and the books checked in the database (``books``):
  units with the occupied bit = live seat lines = the pool's held + sold (its seats' live claims; its row's
  counters stay 0: seat orders do not take them), no unit in two live holds, no seat on two live lines.
- ``availability``: what a seat picker loads. The map answer (``seat-map``: the sections; a house of at most
  ``map_parts.INLINE_SEATS`` seats has their seats in it) and a section's seats (``seat-map/sections/{key}``, the
  largest section; and all of them together, what a buyer who zooms into every section fetches): size raw and
  gzip, a worker's first answer, and as a client sees them (a hit, and a miss: ``shop_cache_seconds`` after the
  last ask); the time to cut the seats into parts in this process (``map_parts.parts_of``, once per seating and
  worker). Then the full availability: size raw and gzip, time server-side (the shop view's function plus JSON in
  this process, the seats already cached as in a running worker: ``server_ms``, on PostgreSQL past
  ``live.CHANGES_ABOVE`` taken a read of the units written since; ``server_full_read_ms``, a read of every state
  forced, as a worker makes every ``live.FULL_READ_SECONDS``) and as a client sees it (miss and hit); then
  ``--delta-sales`` orders and the same for ``?since=`` the version before them. With ``--fill F``, that share of
  the seats still free is first marked taken in the database (their units' occupied bit, as claims set it; taken
  back afterwards): the same figures on a fuller house (``filled_seats``).
- ``expiry``: the server stopped, every pending order made due and expired by the sweeper's functions; then
  nothing may be left held (``leaked``: units still occupied, pool counters, live holds).

Exits 1 if a books check or the leak check fails. Unless ``--skip-pgbench``, pgbench (flash_sale.py's) runs
first. Reuses flash_sale.py's server, HTTP client, CPU accounting and books helpers.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gzip
import json
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flash_sale as fs  # noqa: E402
import seating_alloc  # noqa: E402

SLUG = "bench"
ZONE_PRICES = {"A": 128000, "B": 88000, "C": 58000, "D": 28000}
MAX_GROUP = 14  # best-available groups in the fill (≈ 10,700 requests on 80,192 seats)


# --- the stadium ------------------------------------------------------------------------------------------------


def stadium_of(seats: int) -> Any:
    """The smallest bowl of ``seating_alloc.stadium``'s kind with at least ``seats`` seats: 32 sections of as
    few rows as will do (80,000 → 77 rows, 80,192 seats; at most 78 rows, 81,664), or for a smoke run one row
    in as few sections."""
    from piaowu.seating.generate import arc_seat_counts

    for rows in range(1, 79):
        n = sum(arc_seat_counts(rows, 5000, 90.0, 50.0, seating_alloc.GANGWAY_SPAN))
        for sections in range(1, 33):
            if n * sections >= seats and (sections == 32 or rows == 1):
                return seating_alloc.stadium(sections, rows=rows, span=seating_alloc.GANGWAY_SPAN)
    return seating_alloc.stadium(32, rows=78, span=seating_alloc.GANGWAY_SPAN)


@dataclass
class World:
    organizer_id: str
    user_id: str
    session_id: str
    pool_id: str
    ticket_type_id: str
    seats: int
    seed: dict[str, Any]


async def seed_stadium(db_url: str, var: Path, secret: str, seats: int) -> World:
    """The organizer (flash_sale's seed: slug ``bench``, an owner), a venue, an event, an on-sale session with
    the stadium's layout assigned and one ticket type priced per zone — through the services, timed."""
    from piaowu.accounts import service as accounts
    from piaowu.catalog import event_service, session_service, ticket_type_service, venue_service, views
    from piaowu.catalog.schemas import EventIn, SessionIn, TicketTypeIn
    from piaowu.catalog.venue_schemas import VenueIn
    from piaowu.config import Settings
    from piaowu.runtime import build_runtime
    from piaowu.seating import layout_service, session_seating

    await fs.seed(db_url, var, secret, {}, [])
    seat_map = stadium_of(seats)
    rt = build_runtime(Settings(database_url=db_url, var_dir=var, secret_key=secret))
    try:
        conn = await asyncpg.connect(fs.pg_url(db_url.rsplit("/", 1)[1]))
        try:
            user_id = await conn.fetchval("select id from staff_users where email = 'owner@bench.test'")
        finally:
            await conn.close()
        async with rt.uow() as uow:
            actor = await accounts.staff_actor(uow, user_id)
            now = uow.now()
            venue = await venue_service.create_venue(uow, actor, VenueIn(name="国家体育场 Stadium"))
            ev = await event_service.create_event(
                uow, actor, EventIn(name="Final", venue_id=venue.id, is_published=True)
            )
            s = await session_service.create_session(
                uow, actor, ev.id,
                SessionIn(name="Final", starts_at=now + timedelta(days=7), ends_at=now + timedelta(days=7, hours=3),
                          capacity=1, status="on_sale"),
            )  # fmt: skip
            tt = await ticket_type_service.create_ticket_type(
                uow, actor, s.id, TicketTypeIn(name="adult", price_minor=ZONE_PRICES["A"], max_per_order=20)
            )
            t0 = time.perf_counter()
            layout = await layout_service.save_layout(uow, actor, venue.id, "Bowl", seat_map)
            t1 = time.perf_counter()
            await session_seating.assign_layout(uow, actor, s.id, layout.id)
            t2 = time.perf_counter()
            zones = sorted({seat.zone for seat in seat_map.seats})
            await session_seating.set_zone_prices(uow, actor, s.id, [(z, tt.id, ZONE_PRICES[z]) for z in zones])
            pool_id = (await views.session_or_404(uow, actor.organizer_id, s.id)).pool_id
            t3 = time.perf_counter()
            await uow.commit()
            t4 = time.perf_counter()
        seed = {
            "part": "seed",
            "seats": len(seat_map.seats),
            "sections": len(seat_map.sections),
            "save_layout_s": round(t1 - t0, 2),
            "assign_layout_s": round(t2 - t1, 2),
            "commit_s": round(t4 - t3, 2),
        }
        return World(actor.organizer_id, user_id, s.id, pool_id, tt.id, len(seat_map.seats), seed)
    finally:
        await rt.db.dispose()


def runtime(db_url: str, var: Path, secret: str) -> Any:
    from piaowu.config import Settings
    from piaowu.runtime import build_runtime

    return build_runtime(Settings(database_url=db_url, var_dir=var, secret_key=secret))


def summary(values: list[float]) -> dict[str, float]:
    """p50 / p99 / max in ms of seconds."""
    if not values:
        return {}
    v = sorted(values)

    def at(p: float) -> float:
        return round(v[min(len(v) - 1, int(p * len(v)))] * 1000, 3)

    return {"n": len(v), "p50": at(0.5), "p99": at(0.99), "max": round(v[-1] * 1000, 3)}


# --- part 1: best available through the resolver's path, house empty → full --------------------------------------


async def run_alloc(rt: Any, world: World, dsn: str, seed: int) -> dict[str, Any]:
    from piaowu.core.errors import SeatsUnavailable
    from piaowu.core.selections import Item
    from piaowu.seating import live as live_mod
    from piaowu.seating.resolver import BestAvailable, SeatResolver, SeatSelection

    rng = random.Random(seed)
    resolver = SeatResolver()
    registry = live_mod.LiveSeats()  # this run's own view, as a fresh worker's
    rt.strategies[live_mod.LIVE_KEY] = registry
    org, sid, tt = world.organizer_id, world.session_id, world.ticket_type_id
    conn = await asyncpg.connect(dsn)
    request_s: list[float] = []
    request_cpu_s: list[float] = []
    resolve_s: list[float] = []
    refresh_s: list[float] = []
    first_s: float | None = None
    sold: set[str] = set()
    twice = splits = refused = 0
    zones: list[str] = []
    t_start = time.perf_counter()
    try:
        while True:
            live = None
            if zones:
                live = registry._by_session.get((org, sid))
            index = live.index if live is not None else None
            if index is not None:
                open_zones = [z for z in zones if index.free_count(z)]
                if not open_zones:
                    break
                zone = rng.choice(open_zones)
                n = min(rng.randint(1, MAX_GROUP), index.free_count(zone))
            else:
                zone, n = None, rng.randint(1, MAX_GROUP)
            chosen: tuple[str, ...] = ()
            for split in (False, True):
                item = Item("seat", SeatSelection(tt, best=BestAvailable(zone, n, 0, split)), index=0)
                async with rt.uow(readonly=True) as uow:
                    live = registry._by_session.get((org, sid))
                    read_at = live.read_at if live is not None else None
                    c0, t0 = time.thread_time(), time.perf_counter()
                    ctx = await resolver.load(uow, org, [item])
                    t1 = time.perf_counter()
                    try:
                        res = resolver.resolve([item], ctx)
                    except SeatsUnavailable as e:
                        res = e
                    c2, t2 = time.thread_time(), time.perf_counter()
                if first_s is None:
                    first_s = t2 - t0  # reads the seats and builds the index: once per worker and layout
                else:
                    request_s.append(t2 - t0)
                    request_cpu_s.append(c2 - c0)
                    resolve_s.append(t2 - t1)
                    live = registry._by_session[(org, sid)]
                    if read_at is not None and live.read_at != read_at:
                        refresh_s.append(t1 - t0)
                if not zones:
                    zones = list(registry._by_session[(org, sid)].seats.zones)
                if not isinstance(res, Exception):
                    chosen = tuple(h.unit_id for line in res.lines for h in line.holdings if hasattr(h, "unit_id"))
                    splits += split
                    break
                refused += 1
            if not chosen:
                raise SystemExit(f"best available found nothing for {n} in zone {zone}: {res!r}")
            twice += len(sold & set(chosen))
            sold.update(chosen)
            # What the order's claim would do: the units' occupied bit (the next snapshot reads it).
            await conn.execute(
                "update inventory_units set occupied = occupied | 1 where id = any($1::varchar[])", list(chosen)
            )
        seconds = time.perf_counter() - t_start
        await conn.execute("update inventory_units set occupied = 0 where pool_id = $1", world.pool_id)
    finally:
        await conn.close()
        registry.stop()  # its background refresher, before the database is dropped
        rt.strategies.pop(live_mod.LIVE_KEY, None)
    return {
        "part": "alloc",
        "seats": world.seats,
        "seats_chosen": len(sold),
        "chosen_twice": twice,
        "allocations": len(request_s) + 1,
        "split_allocations": splits,
        "refused_together": refused,
        "seconds": round(seconds, 1),
        "first_request_ms": round((first_s or 0) * 1000, 1),
        "request_ms": summary(request_s),
        "request_cpu_ms": summary(request_cpu_s),
        "resolve_ms": summary(resolve_s),
        "refresh_ms": summary(refresh_s),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


# --- part 2: seat orders through the API -------------------------------------------------------------------------


@dataclass
class SeatMapInfo:
    ids: list[str]  # by ordinal
    count: int


@dataclass
class OrdersRun:
    target: int
    warmup: int = 1  # orders per buyer before the timed part (placed or refused alike)
    started: int = 0
    orders: int = 0
    seats: int = 0
    lat: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)

    def took(self, step: str, seconds: float) -> None:
        self.lat.setdefault(step, []).append(seconds)


class Ready:
    """Set once every buyer has made its warm-up order (or given up)."""

    def __init__(self, clients: int) -> None:
        self.left, self.event = clients, asyncio.Event()

    def one(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.event.set()


class ClientView:
    """A buyer page's copy of the states: the full answer once, then ``since=`` changes."""

    def __init__(self) -> None:
        self.packed = bytearray()
        self.version = ""

    def update(self, answer: dict[str, Any]) -> None:
        if "states" in answer:
            self.packed = bytearray(base64.b64decode(answer["states"]))
        else:
            for ordinal, state in answer["changes"]:
                shift = (ordinal & 3) << 1
                self.packed[ordinal >> 2] = (self.packed[ordinal >> 2] & ~(3 << shift) & 0xFF) | (state << shift)
        self.version = answer["version"]

    def free(self, ordinal: int) -> bool:
        return not (self.packed[ordinal >> 2] >> ((ordinal & 3) << 1)) & 3


def order_body(tt: str, selection: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {"items": [{"product": "seat", "selection": {"ticket_type_id": tt, **selection}}], "buyer": fs.BUYER}
    )


async def seat_buyer(
    port: int, world: World, seat_map: SeatMapInfo, run: OrdersRun, start: asyncio.Event, ready: Ready, seed: int
) -> None:
    rng = random.Random(seed)
    conn = await fs.Conn.open(port)
    view = ClientView()
    json_h = b"Content-Type: application/json\r\n"
    base = f"/api/v1/shop/{SLUG}/sessions/{world.session_id}"
    warm = run.warmup
    try:
        while warm or run.started < run.target:
            if not warm:
                run.started += 1
            q = rng.randint(1, 4)
            picked = rng.random() < 0.5
            t0 = time.perf_counter()
            if picked:
                path = f"{base}/seat-availability" + (f"?since={view.version}" if view.version else "")
                status, body, _ = await conn.request("GET", path)
                if status == 503 and b'"busy"' in body:
                    run.refused["availability:busy"] += 1
                    continue
                if status != 200:
                    run.errors["availability " + fs.error_code(status, body)] += 1
                    continue
                view.update(orjson.loads(body))
                choice: set[int] = set()
                for _ in range(50 * q):
                    o = rng.randrange(seat_map.count)
                    if view.free(o):
                        choice.add(o)
                        if len(choice) == q:
                            break
                if not choice:
                    run.errors["no free seat seen"] += 1
                    continue
                selection: dict[str, Any] = {"seats": [seat_map.ids[o] for o in choice]}
            else:
                selection = {"best_available": {"zone": None, "quantity": q}}
            t1 = time.perf_counter()
            status, body, _ = await conn.request("POST", f"/api/v1/shop/{SLUG}/orders", order_body(
                world.ticket_type_id, selection), json_h)  # fmt: skip
            t2 = time.perf_counter()
            kind = "picked" if picked else "best"
            if warm:
                warm -= 1
                if status not in (201, 409, 503):
                    run.errors["warm-up " + fs.error_code(status, body)] += 1
                if not warm:
                    ready.one()
                    await start.wait()
                continue
            if status == 201:
                run.orders += 1
                run.seats += len(selection["seats"]) if picked else q
                run.kinds[kind] += 1
                run.took("order", t2 - t1)
                run.took(f"order_{kind}", t2 - t1)
                if picked:
                    run.took("availability", t1 - t0)
            elif status == 409 or (status == 503 and b'"busy"' in body):
                # 503 busy: the server shed the request (its guard against overload): a refusal, not a fault.
                run.refused[f"{kind}:{fs.error_code(status, body).split(':', 1)[1]}"] += 1
            else:
                run.errors[fs.error_code(status, body)] += 1
                if sum(run.errors.values()) > 200:
                    run.target = 0  # something is badly wrong; stop rather than spin
    finally:
        if warm:
            ready.one()
        conn.close()


async def check_seat_books(dsn: str, world: World) -> dict[str, int]:
    """The session's books in the database: the pool's counters against its holds (flash_sale's ``_books``),
    units with the occupied bit against live holds' units and against live orders' seat lines; no unit in two
    live holds; no seat on two live lines."""
    conn = await asyncpg.connect(dsn)
    try:
        books = await fs._books(conn, world.ticket_type_id)
        occupied = await conn.fetchval(
            "select count(*) from inventory_units where pool_id = $1 and occupied & 1 = 1", world.pool_id
        )
        # The seats' live claims by their hold's state: a seated pool's held and sold (inventory.counts), its row's
        # counters untouched by seat orders (inventory.rules.SEATS_ONLY).
        claims = dict(
            await conn.fetch(
                "select h.status, count(*) from inventory_hold_units c join inventory_holds h on h.id = c.hold_id "
                "join inventory_units u on u.id = c.unit_id where u.pool_id = $1 "
                "and (h.status = 'active' or (h.status = 'converted' and c.returned_at is null)) group by h.status",
                world.pool_id,
            )
        )
        held_units = sum(claims.values())
        double_held = await conn.fetchval(
            "select count(*) from (select c.unit_id from inventory_hold_units c "
            "join inventory_holds h on h.id = c.hold_id join inventory_units u on u.id = c.unit_id "
            "where u.pool_id = $1 and (h.status = 'active' or (h.status = 'converted' and c.returned_at is null)) "
            "group by c.unit_id having count(*) > 1) d",
            world.pool_id,
        )
        live_lines = await conn.fetchval(
            "select count(*) from order_lines l join orders o on o.id = l.order_id where l.session_id = $1 "
            "and l.status = 'active' and o.status in ('pending', 'paid', 'partially_refunded')",
            world.session_id,
        )
        double_lines = await conn.fetchval(
            "select count(*) from (select l.seat_section, l.seat_row, l.seat_number from order_lines l "
            "join orders o on o.id = l.order_id where l.session_id = $1 and l.status = 'active' "
            "and o.status in ('pending', 'paid', 'partially_refunded') group by 1, 2, 3 having count(*) > 1) d",
            world.session_id,
        )
        active_holds = await conn.fetchval("select count(*) from inventory_holds where status = 'active'")
    finally:
        await conn.close()
    held, sold = claims.get("active", 0), claims.get("converted", 0)
    return {
        "capacity": books["capacity"],
        "held": held,
        "sold": sold,
        "pool_row": books["held"] + books["sold"],
        "occupied_units": occupied,
        "held_units": held_units,
        "live_seat_lines": live_lines,
        "active_holds": active_holds,
        "seat_sold_twice": double_held + double_lines,
        "mismatch": books["held_mismatch"] + books["oversold"] + (occupied != held_units) + (occupied != live_lines)
        + (held + sold > books["capacity"]) + books["held"] + books["sold"],
    }  # fmt: skip


async def run_orders(
    port: int, world: World, seat_map: SeatMapInfo, clients: int, orders: int, dsn: str, dbname: str,
    procs: dict[str, int], seed: int, warmup: int = 1,
) -> dict[str, Any]:  # fmt: skip
    run, start, ready = OrdersRun(orders, max(1, warmup)), asyncio.Event(), Ready(clients)
    tasks = [
        asyncio.create_task(seat_buyer(port, world, seat_map, run, start, ready, seed * 1000 + i))
        for i in range(clients)
    ]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(ready.event.wait(), 120)
    before_db = await fs.check_books_many(dsn, [world.ticket_type_id])
    cpu_before = fs.cpu_snapshot(procs, dbname)
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    cpu = fs.cpu_used(cpu_before, fs.cpu_snapshot(procs, dbname))
    after_db = await fs.check_books_many(dsn, [world.ticket_type_id], after=True)
    books = await check_seat_books(dsn, world)
    n = max(run.orders, 1)
    return {
        "part": "orders",
        "clients": clients,
        "orders": run.orders,
        "warmup_orders": clients * run.warmup,
        "seats": run.seats,
        "by_kind": dict(run.kinds),
        "seconds": round(elapsed, 3),
        "orders_per_s": round(run.orders / elapsed, 1),
        "seats_per_s": round(run.seats / elapsed, 1),
        "latency_ms": {step: fs.percentiles(v) for step, v in run.lat.items()},
        "refused": dict(run.refused),
        "errors": dict(run.errors),
        "cpu_ms_per_order": fs.per(n, cpu),
        **fs.db_counts_per(n, before_db, after_db),
        "books": books,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


# --- part 3: what a seat picker loads ----------------------------------------------------------------------------


def sizes(body: bytes) -> dict[str, int]:
    return {"raw_bytes": len(body), "gzip_bytes": len(gzip.compress(body, 6))}


async def timed_get(conn: fs.Conn, path: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    status, body, _ = await conn.request("GET", path)
    if status != 200:
        raise SystemExit(f"GET {path}: {status} {body[:300]!r}")
    return time.perf_counter() - t0, body


async def server_side(
    rt: Any, world: World, since: str | None, repeat: int, *, full: bool = False
) -> tuple[list[float], bytes]:
    """The shop view's availability plus its JSON, in this process: a worker's work on a cache miss, the states
    read again each time (the seats are read once before, as a running worker has them) — on PostgreSQL the
    units written since the last read, or with ``full`` every seat's state (a worker's read every
    ``live.FULL_READ_SECONDS``)."""
    from piaowu.seating import live as live_mod
    from piaowu.seating import shop_views

    times, body = [], b""
    for k in range(repeat + 1):
        for live in live_mod.LIVE._by_session.values():
            live.read_at = -1e18  # a miss: the states are read again, as a worker does every shop_cache_seconds
            if full:
                live.full_read_at = -1e18
        async with rt.uow(readonly=True) as uow:
            t0 = time.perf_counter()
            body = orjson.dumps(await shop_views.seat_availability(uow, world.organizer_id, world.session_id, since))
            if k:
                times.append(time.perf_counter() - t0)
    return times, body


async def client_misses(port: int, path: str, repeat: int, cache_s: float) -> list[tuple[float, bytes]]:
    """``repeat`` asks, each past the micro-cache (the worker reads the states again), each on a connection of
    its own (so both workers answer some)."""
    out = []
    for _ in range(repeat):
        await asyncio.sleep(cache_s + 0.1)
        conn = await fs.Conn.open(port)
        try:
            out.append(await timed_get(conn, path))
        finally:
            conn.close()
    return out


@dataclass
class MapLoad:
    """The map as a fresh server first answered it: the map answer and each section's seats (time, body)."""

    answer: tuple[float, bytes]
    sections: list[tuple[float, bytes]]  # in the map's order; the inline seats (time 0) for a small house

    def seat_ids(self) -> list[str]:
        """Every seat's id by ordinal, from the sections' columns."""
        ids: dict[int, str] = {}
        for _, body in self.sections:
            part = orjson.loads(body)
            ordinals = [first + k for first, n in part["ordinals"] for k in range(n)]
            ids.update(zip(ordinals, part["ids"], strict=True))
        return [ids[o] for o in range(len(ids))]


async def load_map(port: int, session_id: str) -> MapLoad:
    conn = await fs.Conn.open(port)
    try:
        answer = await timed_get(conn, f"/api/v1/shop/{SLUG}/sessions/{session_id}/seat-map")
        sections = []
        for s in orjson.loads(answer[1])["sections"]:
            if "seats" in s:
                sections.append((0.0, orjson.dumps(s["seats"])))
            else:
                sections.append(await timed_get(conn, s["seats_url"]))
    finally:
        conn.close()
    return MapLoad(answer, sections)


def parts_ms(rt: Any, world: World, repeat: int) -> list[float]:
    """The time to cut the session's seats into the map's parts (``map_parts.parts_of``), as a worker does once
    per seating, on the seats this process holds."""
    from piaowu.seating import live as live_mod
    from piaowu.seating.map_parts import parts_of

    live = next(v for v in live_mod.LIVE._by_session.values() if v.seats.session_id == world.session_id)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        parts_of(live.seats.sections, live.seats.seats)
        times.append(time.perf_counter() - t0)
    return times


async def run_availability(
    port: int, rt: Any, world: World, first: MapLoad, delta_sales: int, repeat: int
) -> dict[str, Any]:
    from piaowu.seating import live as live_mod

    cache_s = rt.settings.shop_cache_seconds
    base = f"/api/v1/shop/{SLUG}/sessions/{world.session_id}"
    answer = orjson.loads(first.answer[1])
    inline = answer["inline"]
    largest = max(range(len(first.sections)), key=lambda k: len(first.sections[k][1]))
    section_path = None if inline else answer["sections"][largest]["seats_url"]
    conn = await fs.Conn.open(port)
    try:
        map_warm = [(await timed_get(conn, f"{base}/seat-map"))[0] for _ in range(repeat)]
        section_warm = [(await timed_get(conn, section_path))[0] for _ in range(repeat)] if section_path else []
        hits = [(await timed_get(conn, f"{base}/seat-availability"))[0] for _ in range(repeat)]
    finally:
        conn.close()
    map_misses = [t for t, _ in await client_misses(port, f"{base}/seat-map", repeat, cache_s)]
    section_misses = [t for t, _ in await client_misses(port, section_path, repeat, cache_s)] if section_path else []
    async with rt.uow(readonly=True) as uow:  # this process's copy of the seats, for the parts' timing
        await live_mod.live_of(uow).seats(uow, world.organizer_id, world.session_id)
    parts = parts_ms(rt, world, max(1, repeat // 3))
    all_sections = b"".join(body for _, body in first.sections)
    section_sizes = sorted(sizes(body)["gzip_bytes"] for _, body in first.sections)
    live_mod.LIVE.clear()
    full_reads, _ = await server_side(rt, world, None, repeat, full=True)
    server, full = await server_side(rt, world, None, repeat)
    misses = [t for t, _ in await client_misses(port, f"{base}/seat-availability", repeat, cache_s)]
    full_answer = orjson.loads(full)
    version = full_answer["version"]
    free = sum(z["free"] for z in full_answer["zones"].values())
    # Every worker reads the states at this version (the house is quiet), so each can answer since= it.
    conns = [await fs.Conn.open(port) for _ in range(8)]
    await asyncio.sleep(cache_s + 0.1)
    answers = await asyncio.gather(*(timed_get(c, f"{base}/seat-availability") for c in conns))
    for c in conns:
        c.close()
    same_version = all(orjson.loads(b)["version"] == version for _, b in answers)
    # K sales (best available, 2 seats each), then the delta since that version.
    sale = await fs.Conn.open(port)
    sold = 0
    try:
        body = order_body(world.ticket_type_id, {"best_available": {"zone": None, "quantity": 2}})
        for _ in range(delta_sales):
            status, answer, _ = await sale.request(
                "POST", f"/api/v1/shop/{SLUG}/orders", body, b"Content-Type: application/json\r\n"
            )
            sold += 2 * (status == 201)
    finally:
        sale.close()
    d_server, delta = await server_side(rt, world, version, repeat)
    asked = await client_misses(port, f"{base}/seat-availability?since={version}", repeat, cache_s)
    # A worker that did not read the states at ``version`` answers with all of them (documented): counted.
    deltas = [(t, body) for t, body in asked if b'"changes"' in body]
    answer = orjson.loads(deltas[-1][1]) if deltas else {}
    return {
        "part": "availability",
        "seats": world.seats,
        "map": {
            **sizes(first.answer[1]),
            "sections": len(first.sections),
            "inline": inline,
            "first_ms": round(first.answer[0] * 1000, 1),
            "client_hit_ms": fs.percentiles(map_warm),
            "client_miss_ms": fs.percentiles(map_misses),
            "parts_ms": fs.percentiles(parts),
        },
        "section": {
            "largest": {
                "seats": orjson.loads(first.sections[largest][1])["count"],
                **sizes(first.sections[largest][1]),
                "first_ms": round(first.sections[largest][0] * 1000, 1),
                "client_hit_ms": fs.percentiles(section_warm),
                "client_miss_ms": fs.percentiles(section_misses),
            },
            "median_gzip_bytes": section_sizes[len(section_sizes) // 2],
            "all_first_ms": fs.percentiles([t for t, _ in first.sections]),
            "all": {"raw_bytes": len(all_sections), "gzip_bytes": sum(section_sizes)},
        },
        "full": {
            **sizes(full),
            "free_seats": free,  # as the answer counts them (seats withheld from the web shown not for sale)
            "server_ms": fs.percentiles(server),
            "server_full_read_ms": fs.percentiles(full_reads),
            "client_miss_ms": fs.percentiles(misses),
            "client_hit_ms": fs.percentiles(hits),
            "same_version_on_every_worker": same_version,
        },
        "delta": {
            "sales": delta_sales,
            "seats_sold": sold,
            "changes": len(answer.get("changes", [])),
            "asked": len(asked),
            "answered_in_full": len(asked) - len(deltas),
            **sizes(delta),
            "server_ms": fs.percentiles(d_server),
            "client_miss_ms": fs.percentiles([t for t, _ in deltas]),
        },
    }


async def fill_house(dsn: str, world: World, share: float, seed: int) -> list[str]:
    """``share`` of the seats not yet taken given their unit's occupied bit, as claims would (the availability
    part then measures a fuller house: past ``live.CHANGES_ABOVE`` taken a worker reads the units written since its
    last read, and a full read past ``live.AGGREGATE_ABOVE`` is one aggregate). → the units marked, for
    ``unfill_house``."""
    conn = await asyncpg.connect(dsn)
    try:
        free = await conn.fetch(
            "select id from inventory_units where pool_id = $1 and (occupied | blocked) & 1 = 0 order by id",
            world.pool_id,
        )
        marked = random.Random(seed).sample([r["id"] for r in free], int(share * len(free)))
        await conn.execute("update inventory_units set occupied = occupied | 1 where id = any($1::varchar[])", marked)
        return marked
    finally:
        await conn.close()


async def unfill_house(dsn: str, unit_ids: list[str]) -> None:
    """The occupied bit ``fill_house`` gave these units taken back (they were no orders' claims)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "update inventory_units set occupied = occupied & ~1 where id = any($1::varchar[])", unit_ids
        )
    finally:
        await conn.close()


# --- expiry: nothing leaks ---------------------------------------------------------------------------------------


async def run_expiry(rt: Any, world: World, dsn: str) -> dict[str, Any]:
    from piaowu.workers import sweeper

    conn = await asyncpg.connect(dsn)
    try:
        pending = await conn.fetchval("select count(*) from orders where status = 'pending'")
        past = "now() - interval '1 minute'"
        await conn.execute(f"update orders set expires_at = {past} where status = 'pending'")  # noqa: S608
        await conn.execute(f"update inventory_holds set expires_at = {past} where status = 'active'")  # noqa: S608
    finally:
        await conn.close()
    t0 = time.perf_counter()
    expired = 0
    while n := await sweeper.expire_orders(rt, limit=500):
        expired += n
    released = 0
    while n := await sweeper.release_expired_holds(rt, limit=500):
        released += n
    seconds = time.perf_counter() - t0
    books = await check_seat_books(dsn, world)
    leaked = sum(books[k] for k in ("held", "sold", "pool_row", "occupied_units", "held_units", "active_holds"))
    return {
        "part": "expiry",
        "pending_orders": pending,
        "expired": expired,
        "holds_released": released,
        "seconds": round(seconds, 2),
        "orders_per_s": round(expired / max(seconds, 1e-9), 1),
        "books": books,
        "leaked": leaked + books["live_seat_lines"],
    }


# --- main ----------------------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, parts: list[str], tps: float | None) -> list[dict[str, Any]]:
    from piaowu.db.migrate import upgrade_async

    dbname = f"piaowu_bench_{uuid.uuid4().hex[:8]}"
    await fs.admin(f'CREATE DATABASE "{dbname}"')
    proc = None
    out: list[dict[str, Any]] = []

    def emit(r: dict[str, Any]) -> None:
        out.append(r)
        print(json.dumps(r, ensure_ascii=False), flush=True)

    try:
        with tempfile.TemporaryDirectory(prefix="piaowu-bench-") as tmp:
            var, secret = Path(tmp), secrets.token_urlsafe(32)
            db_url = fs.pg_url(dbname, "postgresql+asyncpg")
            dsn = fs.pg_url(dbname)
            await upgrade_async(db_url)
            world = await seed_stadium(db_url, var, secret, args.seats)
            emit(world.seed)
            rt = runtime(db_url, var, secret)
            try:
                if "alloc" in parts:
                    emit(await run_alloc(rt, world, dsn, args.seed))
                if not {"orders", "availability"} & set(parts):
                    return out
                port = fs.free_port()
                extra = {"PIAOWU_SHOP_ORDERS_PER_MINUTE": "100000000"}  # one address plays every buyer
                proc = fs.start_server(db_url, var, secret, port, args.workers, extra_env=extra)
                await fs.wait_healthy(port, proc, var)
                procs = {"server": proc.pid}
                first_map = await load_map(port, world.session_id)
                ids = first_map.seat_ids()
                seat_map = SeatMapInfo(ids, len(ids))
                if "orders" in parts:
                    for k, clients in enumerate(args.clients):
                        r = await run_orders(
                            port, world, seat_map, clients, args.orders, dsn, dbname, procs, args.seed + k, args.warmup
                        )
                        if tps:
                            r["pgbench_tps"] = round(tps, 1)
                            r["ratio_to_pgbench"] = round(r["orders_per_s"] / tps, 3)
                        emit(r)
                if "availability" in parts:
                    filled = await fill_house(dsn, world, args.fill, args.seed) if args.fill else []
                    r = await run_availability(port, rt, world, first_map, args.delta_sales, args.repeat)
                    r["filled_seats"] = len(filled)
                    if filled:  # not orders' claims: gone before the expiry part counts what is left held
                        await unfill_house(dsn, filled)
                    emit(r)
                fs.stop_server(proc)
                proc = None
                emit(await run_expiry(rt, world, dsn))
            finally:
                await rt.db.dispose()
                if args.keep_log and (var / "server.log").exists():
                    shutil.copy(var / "server.log", args.keep_log)
    finally:
        if proc is not None:
            fs.stop_server(proc)
        await fs.admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seats", type=int, default=80_000, help="at least this many (80,000: 80,192)")
    parser.add_argument("--orders", type=int, default=3000, help="orders per --clients count")
    parser.add_argument("--clients", default="16,64", help="concurrent buyers; a list runs one after the other")
    parser.add_argument("--delta-sales", type=int, default=50, help="orders (2 seats each) before the delta")
    parser.add_argument(
        "--fill", type=float, default=0.0, help="share of the free seats marked taken before availability"
    )
    parser.add_argument("--repeat", type=int, default=10, help="timings per availability figure")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--parts", default="alloc,orders,availability")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=20, help="orders per buyer before the timed part (at least 1)")
    parser.add_argument("--skip-pgbench", action="store_true")
    parser.add_argument("--pgbench-seconds", type=int, default=20)
    parser.add_argument("--keep-log", help="copy the server log here")
    args = parser.parse_args()
    args.clients = [int(c) for c in str(args.clients).split(",") if c]
    parts = [p for p in args.parts.split(",") if p]

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt  # so that the server is stopped and the database dropped

    signal.signal(signal.SIGTERM, interrupted)
    tps = None if args.skip_pgbench or "orders" not in parts else fs.pgbench_tps(args.pgbench_seconds)
    results = asyncio.run(bench(args, parts, tps))
    bad = False
    for r in results:
        books = r.get("books") or {}
        bad |= bool(books.get("mismatch") or books.get("seat_sold_twice") or r.get("leaked") or r.get("chosen_twice"))
        bad |= bool(r.get("errors"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
