"""Where "until paid" goes, order by order: merges ``flash_sale.py --timeline``'s event files (written in the
server's and the gateway's processes by ``timeline_hooks/sitecustomize.py``) with the bench's own wall-clock times
of each timed paid order (the gateway's 303 received, the paid answer received).

Segments of one order, in milliseconds (wall clock; every process is on this machine):

- ``303_to_paid``: from the gateway's pay committing to the buyer holding its 303 (not part of until-paid);
- ``paid_to_claimed``: the pay's commit → a drain's claim statement returned the message (the gateway's outbox
  cadence: waiting for a drain, then the claim); ``claim_stmt`` is that claim's own duration;
- ``claimed_to_post``: → its HTTP delivery starts (waiting for a delivery slot, signing);
- ``post_to_notify``: → the server's endpoint is entered (httpx, the socket, the server's event loop and routing);
- ``notify``: the endpoint itself (verify, the transaction, its commit and NOTIFY);
- ``notify_to_wake``: the commit → the waiting worker's listening connection gets the NOTIFY;
- ``wake_to_final``: → the held request's final read starts (the waiting worker's event loop);
- ``final``: the final read; ``final_to_answer``: → the buyer has the answer (serialising, the socket, the bench).

An order whose held request's first read already saw it paid (``early``) has no wake: its segments after
``notify`` are ``notify_to_final`` instead. ``report`` prints, for the orders around the median and those in the
slowest percent of until-paid, each segment's median.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import asyncpg

SEGMENTS = (
    "paid_to_claimed",
    "claimed_to_post",
    "post_to_notify",
    "post_to_asgi",
    "asgi_to_notify",
    "notify",
    "notify_to_wake",
    "wake_to_final",
    "final",
    "final_to_answer",
)


def read_events(folder: Path) -> dict[tuple[str, str], list[tuple[float, str]]]:
    """(event, key) → [(time, extra)] from every process's file."""
    out: dict[tuple[str, str], list[tuple[float, str]]] = defaultdict(list)
    for path in folder.glob("*.tsv"):
        for line in path.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 4:
                out[(parts[0], parts[1])].append((float(parts[2]), parts[3]))
    return out


def order_segments(
    ev: dict[tuple[str, str], list[tuple[float, str]]], order_id: str, trade_no: str, t303: float, t_answer: float
) -> dict[str, Any] | None:
    def first(event: str, key: str) -> tuple[float, str] | None:
        got = ev.get((event, key))
        return min(got) if got else None

    paid, claimed, post0 = first("paid", trade_no), first("claimed", trade_no), first("post0", trade_no)
    n0, n1 = first("notify0", trade_no), first("notify1", trade_no)
    read1, final0, final1 = first("read1", order_id), first("final0", order_id), first("final1", order_id)
    if None in (paid, claimed, post0, n0, n1, final0, final1):
        return None
    assert paid and claimed and post0 and n0 and n1 and final0 and final1  # for the type checker
    woken = [(t, x) for t, x in ev.get(("wake", order_id), []) if not x.endswith(":0")]
    early = read1 is not None and read1[1] != "pending"
    seg: dict[str, Any] = {
        "until_paid": 1000 * (t_answer - t303),
        "303_to_paid": 1000 * (t303 - paid[0]),
        "paid_to_claimed": 1000 * (claimed[0] - paid[0]),
        "claim_stmt": 1000 * (claimed[0] - float(claimed[1])),
        "claimed_to_post": 1000 * (post0[0] - claimed[0]),
        "post_to_notify": 1000 * (n0[0] - post0[0]),
        # post_to_notify split where the request reaches the application: before, the gateway's client, the socket
        # and the server's loop; after, the middleware, the body and the endpoint's call
        **(
            {"post_to_asgi": 1000 * (asgi[0] - post0[0]), "asgi_to_notify": 1000 * (n0[0] - asgi[0])}
            if (asgi := first("asgi", trade_no))
            else {}
        ),
        "notify": 1000 * (n1[0] - n0[0]),
        "final": 1000 * (final1[0] - final0[0]),
        "final_to_answer": 1000 * (t_answer - final1[0]),
        "early": early,
    }
    if woken and not early:
        wake = min(woken)[0]
        seg["notify_to_wake"] = 1000 * (wake - n1[0])
        seg["wake_to_final"] = 1000 * (final0[0] - wake)
    else:
        seg["notify_to_final"] = 1000 * (final0[0] - n1[0])
    return seg


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"orders": len(rows), "early": sum(r["early"] for r in rows)}
    for key in ("until_paid", "303_to_paid", *SEGMENTS, "claim_stmt", "notify_to_final"):
        values = [r[key] for r in rows if key in r]
        if values:
            out[key] = round(statistics.median(values), 1)
    return out


def report(folder: Path, orders: list[tuple[str, str, float, float]]) -> dict[str, Any]:
    """``orders``: (order id, trade number, 303 received, paid answer received) of each timed order."""
    ev = read_events(folder)
    rows = [s for o in orders if (s := order_segments(ev, *o)) is not None]
    rows.sort(key=lambda r: r["until_paid"])
    n = len(rows)
    if not n:
        return {"mode": "timeline", "orders": 0, "traced": len(orders)}
    mid = rows[int(n * 0.45) : max(int(n * 0.55), int(n * 0.45) + 1)]
    tail = rows[int(n * 0.98) :]
    pct = {}
    for key in ("until_paid", *SEGMENTS):
        values = sorted(r[key] for r in rows if key in r)
        if values:
            pct[key] = {p: round(values[min(len(values) - 1, int(len(values) * q))], 1) for p, q in
                        (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}  # fmt: skip
    return {
        "mode": "timeline",
        "traced": len(orders),
        "merged": n,
        "median_orders": summarise(mid),
        "slowest_2pct": summarise(tail),
        "all": summarise(rows),
        "segment_percentiles": pct,
    }


async def sample_waits(dsn: str, dbname: str, stop: asyncio.Event, every_s: float = 0.02) -> dict[str, Any]:
    """What the run's database sessions are doing, sampled from ``pg_stat_activity`` every ``every_s`` until
    ``stop``: per (state, wait event, the statement's first words), the mean number of sessions in it — e.g. how
    many transactions wait at any moment for a row lock another holds while its client is busy elsewhere."""
    conn = await asyncpg.connect(dsn)
    counts: Counter[str] = Counter()
    samples = 0
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                "SELECT state, wait_event_type, wait_event, left(regexp_replace(query, '\\s+', ' ', 'g'), 48) AS q"
                " FROM pg_stat_activity WHERE datname = $1 AND state <> 'idle' AND pid <> pg_backend_pid()",
                dbname,
            )
            samples += 1
            for r in rows:
                wait = f"{r['wait_event_type']}:{r['wait_event']}" if r["wait_event_type"] else "cpu"
                counts[f"{r['state']} | {wait} | {r['q']}"] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
    finally:
        await conn.close()
    top = {k: round(v / max(samples, 1), 2) for k, v in counts.most_common(12)}
    return {"samples": samples, "mean_sessions": top}
