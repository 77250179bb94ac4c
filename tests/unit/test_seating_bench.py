"""The best-available bench in miniature: it must fill a small bowl to the last seat (``take`` refuses a seat
that is not free, so an allocator offering one twice stops it). The figures are in docs/benchmarks.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "seating_alloc.py"


def test_seating_alloc_bench_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--sections", "2", "--max-group", "6", "--picks", "0.1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["seats"] > 4_000 and result["left_free"] == 0, result
    assert result["allocations"] > 500 and result["picks"] > 0, result
