"""Units benchmark: seat claims/s and train leg bookings/s through the inventory engine, on PostgreSQL.

    .venv/bin/python bench/units.py [--clients 32] [--seats 2000] [--route-seats 500] [--mode seats|train|both]
                                    [--skip-pgbench]

It creates its own PostgreSQL database (dropped at the end), migrates it, seeds an organizer and, per mode, the
engine's pools and units, then N concurrent clients (asyncio tasks in this process, each with its own unit of
work and connection) call the engine directly — no HTTP, no orders: this measures the engine's hot path.

- ``seats``: one session of ``--seats`` seat units (one leg each) in a session pool. A client claims 1–4 random
  seats it has not seen taken (``reserve(..., claims=)`` with the session pool's counter, one autocommit
  statement), then confirms the hold (its own transaction). Refused claims (``seat_taken``) teach every
  client which seats went. Ends when ``--fill`` of the seats are sold.
- ``train``: a 10-stop route (9 legs), ``--route-seats`` seat units of 9 legs each and one counter pool per leg.
  A client picks a random origin–destination pair, asks the engine for free seats on it
  (``free_units``, first 16 by label), claims one of them at random plus one unit of each leg's pool, and
  confirms. Ends when ``--fill`` of the seats' legs are sold, or every client has found no free seat for 10
  pairs in a row (random journeys leave gaps that no pair fits).

Both end at ``--seconds`` at the latest. One JSON line per mode: claims/s (seats) or bookings/s (train),
latency percentiles (ms) of reserve, confirm and both, refusals by code, CPU per claim or booking of this
process (clients and engine) and of PostgreSQL, and the invariants checked in the database afterwards:
``double_owned`` (a leg of a unit in two live claims), ``occupancy_mismatch`` (a unit's ``occupied`` other
than the union of its live claims, a leg both occupied and blocked, or a train leg's pool counting other than
the seats occupied on that leg), ``counter_mismatch`` (a pool's ``held`` / ``sold`` other than its holds'
items) and ``oversold`` (Σ held + sold − capacity past capacity). Unless ``--skip-pgbench``, PostgreSQL's own
TPC-B is measured first in the same run (flash_sale.py's ``pgbench_tps``) and each mode's ratio to it printed.
Exits 1 if an invariant fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flash_sale as fs  # noqa: E402

STOPS = 10
LEGS = STOPS - 1


@dataclass
class Run:
    lat: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    refused: Counter[str] = field(default_factory=Counter)
    units: int = 0  # seats claimed (seats mode) or bookings (train mode), confirmed
    legs: int = 0  # legs of seats sold (train mode)
    reservations: int = 0
    done: bool = False


async def book(rt: Any, org: str, run: Run, takes: list[Any], claims: list[Any]) -> Any:
    """One purchase through the engine: reserve (one statement, autocommit), then confirm (a transaction).
    → the refusal, or None when sold."""
    from piaowu.core.errors import DomainError
    from piaowu.inventory import service as inventory

    t0 = time.perf_counter()
    try:
        async with rt.uow(autocommit=True) as uow:
            hold = await inventory.reserve(uow, org, takes, claims=claims, expires_at=uow.now() + timedelta(minutes=15))
            await uow.commit()
    except DomainError as refusal:
        run.refused[refusal.code] += 1
        return refusal
    t1 = time.perf_counter()
    async with rt.uow() as uow:
        await inventory.confirm(uow, hold.id)
        await uow.commit()
    t2 = time.perf_counter()
    run.lat["reserve"].append(t1 - t0)
    run.lat["confirm"].append(t2 - t1)
    run.lat["total"].append(t2 - t0)
    run.reservations += 1
    return None


async def seat_client(rt: Any, org: str, pool: str, seats: list[str], seen: set[str], target: int, run: Run) -> None:
    from piaowu.inventory.rules import Claim, Take

    rnd = random.Random()
    while not run.done:
        free = [s for s in seats if s not in seen]
        if len(free) < 4 or run.units >= target:
            break
        chosen = rnd.sample(free, rnd.randint(1, 4))
        refusal = await book(rt, org, run, [Take(pool, len(chosen))], [Claim(s, 1) for s in chosen])
        if refusal is None:
            run.units += len(chosen)
            seen.update(chosen)
        else:
            seen.update(refusal.data.get("unit_ids", ()))
    run.done = True


async def train_client(rt: Any, org: str, run_pool: str, legs: list[str], target: int, run: Run) -> None:
    from piaowu.inventory import service as inventory
    from piaowu.inventory.rules import Claim, Take, span_mask

    rnd = random.Random()
    misses = 0
    while not run.done and misses < 10 and run.legs < target:
        a, b = sorted(rnd.sample(range(STOPS), 2))
        mask = span_mask(a, b)
        async with rt.uow(readonly=True) as uow:
            free = await inventory.free_units(uow, org, run_pool, mask, limit=16)
        if not free:
            misses += 1
            run.refused["no_free_seat"] += 1
            continue
        misses = 0
        takes = [Take(legs[i], 1) for i in range(a, b)]
        if await book(rt, org, run, takes, [Claim(rnd.choice(free), mask)]) is None:
            run.units += 1
            run.legs += b - a


async def check_units(dsn: str, pool_ids: list[str], group: str, leg_pools: list[str] | None) -> dict[str, int]:
    """The invariants of one mode's pools and of the units of its ``group`` pool, read from the database after
    the run (see the module's docstring)."""
    from piaowu.inventory.rules import overlaps

    conn = await asyncpg.connect(dsn)
    try:
        pools = await conn.fetch(
            "select id, capacity, allowance, held, sold from inventory_pools where id = any($1)", pool_ids
        )
        items = await conn.fetch(
            "select i.pool_id, h.status, sum(i.quantity) as q from inventory_hold_items i "
            "join inventory_holds h on h.id = i.hold_id where i.pool_id = any($1) group by i.pool_id, h.status",
            pool_ids,
        )
        units = await conn.fetch("select id, occupied, blocked from inventory_units where pool_id = $1", group)
        claims = await conn.fetch(
            "select c.unit_id, c.mask from inventory_hold_units c join inventory_holds h on h.id = c.hold_id "
            "join inventory_units u on u.id = c.unit_id where u.pool_id = $1 "
            "and (h.status = 'active' or (h.status = 'converted' and c.returned_at is null))",
            group,
        )
    finally:
        await conn.close()
    rows = {(r["pool_id"], r["status"]): r["q"] for r in items}
    owners: dict[str, list[int]] = defaultdict(list)
    for c in claims:
        owners[c["unit_id"]].append(c["mask"])
    double = sum(1 for ms in owners.values() for i, a in enumerate(ms) for b in ms[i + 1 :] if overlaps(a, b))
    mismatch = 0
    for u in units:
        union = 0
        for m in owners.get(u["id"], []):
            union |= m
        mismatch += u["occupied"] != union or bool(u["occupied"] & u["blocked"])
    for leg, pid in enumerate(leg_pools or []):
        on_leg = sum(1 for u in units if u["occupied"] >> leg & 1)
        sold = next(p["held"] + p["sold"] for p in pools if p["id"] == pid)
        mismatch += on_leg != sold
    return {
        "sold": sum(p["sold"] for p in pools),
        "held": sum(p["held"] for p in pools),
        "occupied_legs": sum(bin(u["occupied"]).count("1") for u in units),
        "double_owned": double,
        "occupancy_mismatch": mismatch,
        "counter_mismatch": sum(
            (p["held"] != rows.get((p["id"], "active"), 0)) + (p["sold"] != rows.get((p["id"], "converted"), 0))
            for p in pools
        ),
        "oversold": sum(max(0, p["held"] + p["sold"] - p["capacity"] - p["allowance"]) for p in pools),
    }


async def measure(mode: str, rt: Any, org: str, args: argparse.Namespace, dsn: str, dbname: str) -> dict[str, Any]:
    from piaowu.inventory import service as inventory

    run = Run()
    async with rt.uow() as uow:
        if mode == "seats":
            pool = await inventory.create_pool(uow, org, kind="session", capacity=args.seats, label="seats")
            seats = await inventory.create_units(uow, org, [f"S{i:05d}" for i in range(args.seats)], pool_id=pool)
            pool_ids, leg_pools, group = [pool], None, pool
        else:
            run_pool = await inventory.create_pool(uow, org, kind="train_run", capacity=0, label="G1")
            leg_pools = [
                await inventory.create_pool(uow, org, kind="leg", capacity=args.route_seats, label=f"leg {i}")
                for i in range(LEGS)
            ]
            labels = [f"C{i // 100 + 1:02d}-{i % 100:03d}" for i in range(args.route_seats)]
            await inventory.create_units(uow, org, labels, legs=LEGS, pool_id=run_pool)
            pool_ids, group = leg_pools, run_pool
        await uow.commit()
    if mode == "seats":
        seen: set[str] = set()
        target = int(args.seats * args.fill)
        clients = [seat_client(rt, org, pool, seats, seen, target, run) for _ in range(args.clients)]
    else:
        target = int(args.route_seats * LEGS * args.fill)
        clients = [train_client(rt, org, run_pool, leg_pools, target, run) for _ in range(args.clients)]
    before = fs.loadgen_cpu(), fs.postgres_cpu(dbname)
    t0 = time.perf_counter()
    tasks = [asyncio.ensure_future(c) for c in clients]
    _, pending = await asyncio.wait(tasks, timeout=args.seconds)
    run.done = True
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - t0
    cpu_self = fs.loadgen_cpu() - before[0]
    cpu_pg = sum(v - before[1].get(pid, 0.0) for pid, v in fs.postgres_cpu(dbname).items())
    checks = await check_units(dsn, pool_ids, group, leg_pools)
    n = max(run.units, 1)
    rate = "claims_per_s" if mode == "seats" else "bookings_per_s"
    return {
        "mode": mode,
        "clients": args.clients,
        "units": args.seats if mode == "seats" else args.route_seats,
        "legs": 1 if mode == "seats" else LEGS,
        "claims" if mode == "seats" else "bookings": run.units,
        "reservations": run.reservations,
        "refused": dict(run.refused),
        "seconds": round(elapsed, 3),
        rate: round(run.units / elapsed, 1),
        "reservations_per_s": round(run.reservations / elapsed, 1),
        "latency_ms": {step: fs.percentiles(v) for step, v in run.lat.items()},
        "cpu_ms_per_unit": {"python": round(cpu_self * 1000 / n, 3), "postgres": round(cpu_pg * 1000 / n, 3)},
        "books": {k: checks[k] for k in ("held", "sold", "occupied_legs")},
        "double_owned": checks["double_owned"],
        "occupancy_mismatch": checks["occupancy_mismatch"],
        "counter_mismatch": checks["counter_mismatch"],
        "oversold": checks["oversold"],
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


async def bench(args: argparse.Namespace, modes: list[str]) -> list[dict[str, Any]]:
    from piaowu.config import Settings
    from piaowu.db.migrate import upgrade_async
    from piaowu.organizers import service as organizers
    from piaowu.runtime import build_runtime

    dbname = f"piaowu_bench_{uuid.uuid4().hex[:8]}"
    await fs.admin(f'CREATE DATABASE "{dbname}"')
    try:
        with tempfile.TemporaryDirectory(prefix="piaowu-bench-") as tmp:
            db_url = fs.pg_url(dbname, "postgresql+asyncpg")
            await upgrade_async(db_url)
            secret = secrets.token_urlsafe(32)
            # One connection per client (and the pool's overflow for the reads of the train clients).
            settings = Settings(database_url=db_url, var_dir=Path(tmp), secret_key=secret, db_pool_size=args.clients)
            rt = build_runtime(settings)
            try:
                async with rt.uow() as uow:
                    org = (await organizers.create_organizer(uow, slug="bench", name="Bench", app_secret=secret)).id
                    await uow.commit()
                return [await measure(m, rt, org, args, fs.pg_url(dbname), dbname) for m in modes]
            finally:
                await rt.db.dispose()
    finally:
        await fs.admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seats", type=int, default=2000, help="seat units of the seats mode's session")
    parser.add_argument("--fill", type=float, default=0.8, help="a mode ends when this share of seats (legs) is sold")
    parser.add_argument("--route-seats", type=int, default=500, help="seat units of the train mode's route")
    parser.add_argument("--seconds", type=float, default=60, help="each mode ends after this at the latest")
    parser.add_argument("--mode", choices=["seats", "train", "both"], default="both")
    parser.add_argument("--skip-pgbench", action="store_true", help="no pgbench reference run (CI smoke)")
    parser.add_argument("--pgbench-seconds", type=int, default=20)
    args = parser.parse_args()
    modes = ["seats", "train"] if args.mode == "both" else [args.mode]

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt  # so that the database is dropped

    signal.signal(signal.SIGTERM, interrupted)
    tps = None if args.skip_pgbench else fs.pgbench_tps(args.pgbench_seconds)
    results = asyncio.run(bench(args, modes))
    bad = False
    for r in results:
        if tps:
            rate = r.get("claims_per_s", r.get("bookings_per_s"))
            r["pgbench_tps"] = round(tps, 1)
            r["ratio_to_pgbench"] = round(rate / tps, 3)
        bad |= bool(r["oversold"] or r["double_owned"] or r["occupancy_mismatch"] or r["counter_mismatch"])
        print(json.dumps(r, ensure_ascii=False), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
