"""Best-available allocation on an 80,000-seat stadium, in-process (the pure core only: no database, no HTTP).

    .venv/bin/python bench/seating_alloc.py [--seed 1] [--max-group 15] [--picks 0.0] [--sections 32]

Builds a bowl of 32 arc sections (76 rows each, 20 to 46 seats a row, 4 price zones of 8 sections) and fills
it from empty to full: each step asks ``SeatIndex.choose`` for a random group (1 to ``--max-group`` seats,
split allowed, a random zone that still has seats) and takes the seats it offers. ``--picks`` is the share of
steps that instead take one random free seat, as buyers picking on the map do, which fragments the rows.
Prints one JSON line: allocations, seats, the time of ``choose`` (p50/p99/max, ms; wall clock and this
thread's CPU time, since a shared machine's scheduler shows in the wall clock's tail), of ``choose`` for split
groups, of ``choose`` plus keeping the index current (``take``), and the time to build the index. ``take``
refuses a seat that is not free, so an allocator offering a taken seat stops the run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from piaowu.seating.best_available import Allocation, Request, SeatIndex  # noqa: E402
from piaowu.seating.generate import arc_section  # noqa: E402
from piaowu.seating.layout import SeatKey, SeatMap, combine  # noqa: E402

ZONES = ("A", "B", "C", "D")
GANGWAY_SPAN = 10.9  # of 11.25° per section: 0.35° apart, 30 units at the front row


def stadium(count: int = 32, rows: int = 76, span: float = 11.25) -> SeatMap:
    """``count`` sections of 11.25° around a pitch (32 close the bowl) of ``rows`` rows each; zone A on the long
    sides' middles, D behind the goals. Each section's seats span ``span`` degrees: at 11.25° neighbours' end seats
    touch, which the pure allocator does not mind but the layout service refuses (seats closer than 20 units);
    ``GANGWAY_SPAN`` leaves a gangway between sections (bench/seating.py, which saves the map)."""
    sections = []
    for s in range(count):
        direction = s * 11.25
        # 0° and 180° are the long sides' middles in this plan; the zone falls off towards 90° and 270°.
        off = min(abs(((direction + 90) % 180) - 90), 90)
        zone = ZONES[min(int(off // 22.5), 3)]
        sections.append(
            arc_section(
                section_id=f"S{s + 1:02d}",
                rows=rows,
                radius=5000,
                angle_span=span,
                direction=direction,
                zone=zone,
            )
        )
    return combine(*sections)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-group", type=int, default=15)
    parser.add_argument("--picks", type=float, default=0.0)
    parser.add_argument("--sections", type=int, default=32, help="fewer for a quick smoke run")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    seat_map = stadium(args.sections)
    started = time.perf_counter()
    index = SeatIndex(seat_map, group_sizes=range(1, args.max_group + 1))
    build_ms = (time.perf_counter() - started) * 1000
    free_keys = FreeSeats(seat.key for seat in seat_map.seats)
    choose_ms: list[float] = []
    step_ms: list[float] = []
    split_ms: list[float] = []
    choose_cpu_ms: list[float] = []
    step_cpu_ms: list[float] = []
    splits = orphans = picks = 0
    while free_keys:
        if rng.random() < args.picks:
            key = free_keys.any(rng)
            index.take([key])
            free_keys.discard(key)
            picks += 1
            continue
        zones = [z for z in ZONES if index.free_count(z)]
        if not zones:  # only picks could have left free seats nowhere else: none are left then
            break
        zone = rng.choice(zones)
        n = min(rng.randint(1, args.max_group), index.free_count(zone))
        c0, t0 = time.thread_time(), time.perf_counter()
        answer = index.choose(Request((zone,), n, allow_split=True))
        c1, t1 = time.thread_time(), time.perf_counter()
        assert isinstance(answer, Allocation), answer
        index.take(answer.seats)
        c2, t2 = time.thread_time(), time.perf_counter()
        choose_ms.append((t1 - t0) * 1000)
        step_ms.append((t2 - t0) * 1000)
        choose_cpu_ms.append((c1 - c0) * 1000)
        step_cpu_ms.append((c2 - c0) * 1000)
        if answer.blocks > 1:
            splits += 1
            split_ms.append(choose_ms[-1])
        orphans += answer.orphans
        for key in answer.seats:
            free_keys.discard(key)

    def summary(values: list[float]) -> dict[str, float]:
        return {p: round(percentile(values, q), 3) for p, q in (("p50", 50), ("p99", 99), ("max", 100))}

    result = {
        "seats": len(seat_map.seats),
        "left_free": len(free_keys),
        "allocations": len(choose_ms),
        "picks": picks,
        "split_allocations": splits,
        "orphans_left": orphans,
        "build_index_ms": round(build_ms, 1),
        "choose_ms": summary(choose_ms),
        "choose_cpu_ms": summary(choose_cpu_ms),
        "choose_split_ms": summary(split_ms),
        "choose_and_take_ms": summary(step_ms),
        "choose_and_take_cpu_ms": summary(step_cpu_ms),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


class FreeSeats:
    """The free seats, for picking one at random in O(1) and the same way on every run (a set's order
    depends on the process's string hashing)."""

    def __init__(self, keys: Iterable[SeatKey]) -> None:
        self.keys = list(keys)
        self.at = {key: i for i, key in enumerate(self.keys)}

    def __len__(self) -> int:
        return len(self.keys)

    def any(self, rng: random.Random) -> SeatKey:
        return self.keys[rng.randrange(len(self.keys))]

    def discard(self, key: SeatKey) -> None:
        i = self.at.pop(key)
        last = self.keys.pop()
        if i < len(self.keys):
            self.keys[i] = last
            self.at[last] = i


if __name__ == "__main__":
    main()
