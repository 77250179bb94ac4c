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
