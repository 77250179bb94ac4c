"""The flash-sale benchmark in miniature (CI): it must run end to end and find nothing oversold.

The figures themselves are not checked here (a shared CI machine is no benchmark); docs/benchmarks.md has them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import pg_available, require_or_skip

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "flash_sale.py"


def test_flash_sale_bench_smoke() -> None:
    require_or_skip(pg_available(), "PostgreSQL at 127.0.0.1:5432")
    require_or_skip(shutil.which("wrk") is not None, "wrk (Debian package 'wrk', the browse mode's load generator)")
    proc = subprocess.run(
        # Every mode, tiny: the paid mode's session is smaller (a paid order is a dozen requests), the spread mode
        # has 10 sessions, the browse mode's wrk runs last 2 s each (it needs wrk: apt-get install -y wrk).
        [sys.executable, str(BENCH), "--mode", "all", "--units", "200", "--paid-units", "60", "--clients", "16"]
        + ["--spread-sessions", "10", "--browse-seconds", "2", "--browse-connections", "4", "--skip-pgbench"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {r["mode"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(results) == {"create", "paid", "spread", "browse"}
    for r in results.values():
        assert r["oversold"] == 0 and r["held_mismatch"] == 0, r
        assert r["errors"] == {}, r
    spread, browse = results["spread"], results["browse"]
    assert (spread["sessions"], spread["books"]["held"]) == (10, 200) and spread["orders"] > 0, spread
    assert browse["availability_per_s"] > 0 and browse["pages_per_s"] > 0, browse
    # Both bought-out sessions were seen as no longer buyable by every connection, JSON and page alike.
    assert all(v is not None and v < 5000 for run in browse["staleness_runs"] for v in run.values()), browse
    assert set(browse["cpu_ms_per_request"]) == {"availability", "page"}, browse
    # Every client's keep-alive connection is counted on the worker holding it (the split sets the latency).
    assert sum(results["create"]["connections_per_worker"]) == 16, results["create"]
    create, paid = results["create"]["books"], results["paid"]["books"]
    assert (create["capacity"], create["held"], create["sold"]) == (200, 200, 0), create
    assert (paid["capacity"], paid["held"]) == (60, 0) and paid["sold"] == paid["paid_lines"] == paid["tickets"] == 60


UNITS_BENCH = BENCH.parent / "units.py"


def test_units_bench_smoke() -> None:
    """bench/units.py in miniature: both modes run to their end and every invariant holds."""
    require_or_skip(pg_available(), "PostgreSQL at 127.0.0.1:5432")
    proc = subprocess.run(
        [sys.executable, str(UNITS_BENCH), "--clients", "8", "--seats", "200", "--route-seats", "40"]
        + ["--seconds", "60", "--skip-pgbench"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {r["mode"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(results) == {"seats", "train"}
    for r in results.values():
        assert (r["oversold"], r["double_owned"], r["occupancy_mismatch"], r["counter_mismatch"]) == (0, 0, 0, 0), r
        assert set(r["refused"]) <= {"seat_taken", "no_free_seat"}, r
    seats, train = results["seats"], results["train"]
    assert seats["claims"] >= 160 and seats["books"]["sold"] == seats["books"]["occupied_legs"] == seats["claims"]
    assert seats["claims_per_s"] > 0 and train["bookings_per_s"] > 0
    # Every booking took one unit of each leg's pool it rides: the leg pools count exactly the occupied legs.
    assert train["books"]["sold"] == train["books"]["occupied_legs"] > train["bookings"] > 0, train


SEATING_BENCH = BENCH.parent / "seating.py"


def test_seating_bench_smoke() -> None:
    """bench/seating.py in miniature: every part runs, best available fills the house without giving a seat twice,
    the seat orders' books hold, the delta is smaller than the full states and nothing is left held after expiry."""
    require_or_skip(pg_available(), "PostgreSQL at 127.0.0.1:5432")
    proc = subprocess.run(
        [sys.executable, str(SEATING_BENCH), "--seats", "300", "--orders", "40", "--clients", "4,8"]
        + ["--warmup", "2", "--delta-sales", "3", "--repeat", "3", "--skip-pgbench"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["part"] for r in lines] == ["seed", "alloc", "orders", "orders", "availability", "expiry"]
    seed, alloc, orders4, orders8, availability, expiry = lines
    assert seed["seats"] >= 300
    # The house filled from empty to full through the resolver, each seat given once.
    assert alloc["seats_chosen"] == seed["seats"] and alloc["chosen_twice"] == 0, alloc
    assert alloc["allocations"] >= seed["seats"] / 14 and alloc["request_ms"]["p99"] > 0, alloc
    sold = 0
    for r in (orders4, orders8):
        assert r["errors"] == {} and r["orders"] > 0 and r["orders_per_s"] > 0, r
        assert r["warmup_orders"] == 2 * r["clients"], r
        assert set(r["refused"]) <= {
            "picked:seat_taken",
            "best:seat_taken",
            "picked:busy",
            "best:busy",
            "availability:busy",
        }, r
        assert set(r["cpu_ms_per_order"]) >= {"server", "postgres", "loadgen"}, r
        books = r["books"]
        assert (books["mismatch"], books["seat_sold_twice"]) == (0, 0), books
        # Every seat held is one unit with its occupied bit, one live hold's unit and one live order line.
        assert books["held"] == books["occupied_units"] == books["held_units"] == books["live_seat_lines"] > sold
        sold = books["held"]
    full, delta, seat_map = availability["full"], availability["delta"], availability["map"]
    assert full["raw_bytes"] > 0 and full["server_ms"]["p50"] > 0 and full["client_miss_ms"]["p50"] > 0
    assert seat_map["raw_bytes"] > seat_map["gzip_bytes"] > 0 and seat_map["sections"] > 0, seat_map
    section = availability["section"]["largest"]
    assert section["seats"] > 0 and section["raw_bytes"] > section["gzip_bytes"] > 0, section
    assert delta["seats_sold"] == 6 and delta["asked"] == 3, delta
    if delta["answered_in_full"] < delta["asked"]:  # a worker that read the states at that version answered
        assert delta["changes"] == 6, delta
    assert expiry["expired"] == expiry["pending_orders"] > 0 and expiry["leaked"] == 0, expiry


def test_seating_bench_measures_availability_on_a_fuller_house() -> None:
    """``--fill``: the availability part on a house marked half taken, the marks taken back before the expiry
    part counts what is left held (nothing)."""
    require_or_skip(pg_available(), "PostgreSQL at 127.0.0.1:5432")
    proc = subprocess.run(
        [sys.executable, str(SEATING_BENCH), "--seats", "300", "--parts", "availability", "--fill", "0.5"]
        + ["--delta-sales", "3", "--repeat", "3", "--skip-pgbench"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seed, availability, expiry = [json.loads(line) for line in proc.stdout.splitlines()]
    assert availability["filled_seats"] == seed["seats"] // 2, availability
    # The full answer counts the marked seats as taken (the house had no orders before).
    assert availability["full"]["free_seats"] == seed["seats"] - seed["seats"] // 2, availability
    assert availability["delta"]["seats_sold"] == 6, availability
    assert expiry["leaked"] == 0, expiry
