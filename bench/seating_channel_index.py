"""Best available for a sales channel that has seats withheld from it: the channel's own index (``SessionLive``'s
``channel_indexes``, the seats blocked in it once) against the path it replaced (those seats taken out of the
plain index for each choice and given back), in-process on the 80,000-seat stadium. No database, no HTTP.

    .venv/bin/python bench/seating_channel_index.py [--withheld-rows 3] [--withheld-sections 2] [--requests 500]

The house is filled at random to ``--taken`` first; each request asks the web channel for 1-4 seats of a random
zone (split allowed), checks both paths give the same answer, then marks the seats taken as an order does
(``mark_taken``: every built index follows). Times are this thread's CPU time per call.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from piaowu.core import channels  # noqa: E402
from piaowu.seating import best_available as ba  # noqa: E402
from piaowu.seating.availability import FREE, TAKEN  # noqa: E402
from piaowu.seating.session_live import SeatRow, SessionLive, SessionSeats  # noqa: E402
from seating_alloc import ZONES, percentile, stadium  # noqa: E402

WEB = channels.bit(channels.WEB)


def view(withheld_rows: int, withheld_sections: int) -> SessionLive:
    seat_map = stadium()
    sections = [s.id for s in seat_map.sections]
    away = set(sections[:withheld_sections])  # a distributor's block: whole sections
    rows = {}
    for seat in seat_map.seats:
        rows.setdefault(seat.section, {}).setdefault(seat.row, len(rows.get(seat.section, {})))
    seats = tuple(
        SeatRow(
            f"u{i}",
            i,
            s.section,
            s.row,
            s.number,
            s.x,
            s.y,
            s.zone,
            tuple(sorted(s.attributes)),
            WEB if s.section in away or rows[s.section][s.row] < withheld_rows else 0,
        )  # fmt: skip
        for i, s in enumerate(seat_map.seats)
    )
    secs = tuple(
        {"id": s.id, "label": s.label, "kind": s.kind, "best": [s.best_x, s.best_y], "seat_gap": s.seat_gap}
        for s in seat_map.sections
    )
    n = len(seats)
    stamp = ("L", 1, n, None)
    zones = tuple(dict.fromkeys(s.zone for s in seats))
    return SessionLive(SessionSeats("S", "P", stamp, secs, seats, {}, {s.key: s for s in seats}, zones))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--withheld-rows", type=int, default=3, help="the front rows of every section, kept back")
    parser.add_argument("--withheld-sections", type=int, default=2)
    parser.add_argument("--taken", type=float, default=0.25, help="share of the house taken before the requests")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    live = view(args.withheld_rows, args.withheld_sections)
    n = len(live.seats.seats)
    live.apply([TAKEN if rng.random() < args.taken else FREE for _ in range(n)])
    t0 = time.thread_time()
    plain = live.build_index()
    plain_build = time.thread_time() - t0
    t0 = time.thread_time()
    live.build_index(channel_bit=WEB)
    channel_build = time.thread_time() - t0
    hidden_all = [live.seats.seats[o].key for o in live.seats.withheld_ordinals(WEB)]
    old_ms, new_ms, mark_ms = [], [], []
    for _ in range(args.requests):
        request = ba.Request((rng.choice(ZONES),), rng.randint(1, 4), allow_split=True)
        t0 = time.thread_time()
        hidden = [k for k in hidden_all if plain.state(k) == ba.FREE]
        plain.take(hidden)
        try:
            before = plain.choose(request)
        finally:
            plain.release(hidden)
        t1 = time.thread_time()
        after = live.choose(request, channel_bit=WEB)
        t2 = time.thread_time()
        if after != before:
            raise SystemExit(f"different answers for {request}: {before} / {after}")
        if isinstance(after, ba.Allocation):
            live.mark_taken([live.seats.by_key[k].ordinal for k in after.seats])
        t3 = time.thread_time()
        old_ms.append((t1 - t0) * 1000)
        new_ms.append((t2 - t1) * 1000)
        mark_ms.append((t3 - t2) * 1000)

    def summary(values: list[float]) -> dict[str, float]:
        return {f"p{p}": round(percentile(values, p), 3) for p in (50, 90, 99)} | {"max": round(max(values), 3)}

    print(
        json.dumps(
            {
                "seats": n,
                "withheld_from_web": len(hidden_all),
                "taken_share": args.taken,
                "requests": args.requests,
                "build_ms": {"plain": round(plain_build * 1000), "web": round(channel_build * 1000)},
                "choose_cpu_ms": {"take_out_and_give_back": summary(old_ms), "channel_index": summary(new_ms)},
                "mark_taken_cpu_ms_two_indexes": summary(mark_ms),
            }
        )
    )


if __name__ == "__main__":
    main()
