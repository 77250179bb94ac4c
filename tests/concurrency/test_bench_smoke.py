"""The flash-sale benchmark in miniature (CI): it must run end to end and find nothing oversold.

The figures themselves are not checked here (a shared CI machine is no benchmark); docs/benchmarks.md has them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import pg_available, require_or_skip

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "flash_sale.py"


def test_flash_sale_bench_smoke() -> None:
    require_or_skip(pg_available(), "PostgreSQL at 127.0.0.1:5432")
    proc = subprocess.run(
        # The paid mode's session is smaller: a paid order is a dozen requests, and this must stay quick.
        [sys.executable, str(BENCH), "--units", "200", "--paid-units", "60", "--clients", "16", "--skip-pgbench"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {r["mode"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(results) == {"create", "paid"}
    for r in results.values():
        assert r["oversold"] == 0 and r["held_mismatch"] == 0, r
        assert r["errors"] == {}, r
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
