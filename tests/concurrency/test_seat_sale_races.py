"""Buyers racing for seats through the HTTP API (product ``seat``), on SQLite and PostgreSQL.

200 buyers ask at once for overlapping sets of 1–4 seats of a 60-seat house: no seat may be held by two orders,
every loser must get ``seat_taken`` naming (with labels) seats a winner holds, and after the holds expire every
seat must be free again — in the units, in the pool's counters and in the shop's availability. A second race
sends best-available buyers who all want the same best block. The control run injects the naive
check-then-act reservation (tests/concurrency/naive.py) and must sell a seat twice: otherwise this test would
be blind. The orders go through the staff route ``POST /api/v1/orders`` (the shop's route is the same use case
behind a per-address rate limit, which 200 buyers from one test client would hit).
"""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import httpx
import pytest

from piaowu.seating.availability import FREE, TAKEN, decode, unpack
from piaowu.workers import sweeper
from tests.concurrency.ledger import warm
from tests.concurrency.test_unit_races import naive_reserve, unit_books
from tests.order_helpers import BUYER
from tests.seating_world import SeatingWorld, seating_world

pytestmark = pytest.mark.slow

BUYERS = 200


def asks(world: SeatingWorld, seed: int) -> list[list[str]]:
    """Each buyer wants 1–4 seats side by side in one row, starting anywhere in it: neighbours overlap."""
    rnd = random.Random(seed)
    rows = [world.seat_ids[i : i + 10] for i in range(0, len(world.seat_ids), 10)]
    out = []
    for _ in range(BUYERS):
        row, k = rnd.choice(rows), rnd.randint(1, 4)
        start = rnd.randrange(len(row) - k + 1)
        out.append(row[start : start + k])
    return out


async def order(client: httpx.AsyncClient, world: SeatingWorld, selection: dict) -> httpx.Response:
    item = {"product": "seat", "selection": {"ticket_type_id": world.adult_id, **selection}}
    return await client.post("/api/v1/orders", json={"items": [item], "buyer": BUYER}, headers=world.auth)


async def race(runtime, client, world: SeatingWorld, seed: int) -> list[tuple[list[str], httpx.Response]]:  # noqa: ANN001
    wanted = asks(world, seed)
    await warm(runtime, 16)
    answers = await asyncio.gather(*(order(client, world, {"seats": a}) for a in wanted))
    return list(zip(wanted, answers, strict=True))


async def house(client: httpx.AsyncClient, world: SeatingWorld) -> list[int]:
    r = await client.get(f"/api/v1/shop/{world.tenant.slug}/sessions/{world.session_id}/seat-availability")
    return unpack(decode(r.json()["states"]), len(world.seat_ids))


async def test_two_hundred_buyers_overlapping_seats_then_every_hold_expires(runtime, client, clock):
    world = await seating_world(runtime)
    results = await race(runtime, client, world, seed=8)
    statuses = {r.status_code for _, r in results}
    assert statuses <= {201, 409}, [r.text for _, r in results if r.status_code not in (201, 409)][:3]
    books = await unit_books(runtime, world.pool_id, world.seat_ids)
    assert books.sound, books
    assert all(len(masks) <= 1 for masks in books.owners.values())
    won = [a for a, r in results if r.status_code == 201]
    assert 0 < len(won) < BUYERS
    # The seats the winners' lines name are the seats the engine says are held, each once.
    sold = [line["seat"] for _, r in results if r.status_code == 201 for line in r.json()["lines"]]
    labels = {world.seats[k]: k for k in world.seats}
    assert sorted(labels[u] for a in won for u in a) == sorted((s["section"], s["row"], s["number"]) for s in sold)
    owned = {u for u, masks in books.owners.items() if masks}
    assert owned == {u for a in won for u in a}
    for wanted, r in results:
        if r.status_code == 409:
            body = r.json()
            assert body["code"] == "seat_taken"
            assert body["seats"] and {s["id"] for s in body["seats"]} <= set(wanted) & owned
            for s in body["seats"]:
                assert (s["section"], s["row"], s["number"]) == labels[s["id"]]
    states = await house(client, world)
    assert [i for i, s in enumerate(states) if s == TAKEN] == sorted(world.seat_ids.index(u) for u in owned)

    # Nothing leaks: once the holds expire the sweeper frees every seat, and each can be bought again.
    clock.advance(timedelta(minutes=runtime.settings.hold_minutes + 1))
    assert await sweeper.expire_orders(runtime) == len(won)
    books = await unit_books(runtime, world.pool_id, world.seat_ids)
    assert books.sound and books.held == 0 and not any(books.owners.values()), books
    assert await house(client, world) == [FREE] * len(world.seat_ids)
    again = await order(client, world, {"seats": world.seat_ids[:4]})
    assert again.status_code == 201


async def test_control_a_naive_reservation_sells_a_seat_twice(runtime, client):
    world = await seating_world(runtime)
    async with naive_reserve(runtime):
        await race(runtime, client, world, seed=8)
    books = await unit_books(runtime, world.pool_id, world.seat_ids)
    assert books.double_owned, "the naive reservation should sell a seat twice; the race test is blind"


async def test_best_available_buyers_racing_for_the_same_block(runtime, client):
    world = await seating_world(runtime)
    rnd = random.Random(3)
    wanted = [(rnd.choice(["A", "B", None]), rnd.randint(1, 3)) for _ in range(60)]
    await warm(runtime, 16)
    answers = await asyncio.gather(
        *(order(client, world, {"best_available": {"zone": z, "quantity": q}}) for z, q in wanted)
    )
    codes = {r.json().get("code") for r in answers if r.status_code != 201}
    assert codes <= {"seat_taken", "not_enough_seats", "no_adjacent_block"}, [r.text for r in answers][:3]
    books = await unit_books(runtime, world.pool_id, world.seat_ids)
    assert books.sound, books
    won = [r.json() for r in answers if r.status_code == 201]
    seats = [(ln["seat"]["section"], ln["seat"]["row"], ln["seat"]["number"]) for o in won for ln in o["lines"]]
    assert len(seats) == len(set(seats)) == sum(1 for ms in books.owners.values() if ms)
    for o in won:  # each group side by side in one row
        rows = {(ln["seat"]["section"], ln["seat"]["row"]) for ln in o["lines"]}
        numbers = sorted(int(ln["seat"]["number"]) for ln in o["lines"])
        assert len(rows) == 1 and numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    # The house is nearly full: most buyers were served, not refused for a stale view.
    assert len(seats) >= 50, (len(seats), [r.json().get("code") for r in answers if r.status_code != 201])
