"""A worker that has not read a seated session yet, asked by many buyers at once (a sale opening): every order
is answered, each seat goes to one order, and the worker reads the seats once."""

from __future__ import annotations

import asyncio

from piaowu.seating.live import LIVE_KEY, LiveSeats
from tests.order_helpers import BUYER
from tests.seating_world import seating_world


async def test_concurrent_first_best_available_orders_on_a_fresh_worker(runtime, client):
    world = await seating_world(runtime)
    live = LiveSeats()
    runtime.strategies[LIVE_KEY] = live  # a fresh worker: nothing of the session read yet
    body = {
        "items": [{"product": "seat", "selection": {"ticket_type_id": world.adult_id, "best_available": {
            "zone": None, "quantity": 2}}}],
        "buyer": BUYER,
    }  # fmt: skip
    answers = await asyncio.gather(
        *(client.post(f"/api/v1/shop/{world.tenant.slug}/orders", json=body) for _ in range(8))
    )
    assert [r.status_code for r in answers] == [201] * 8, [r.text for r in answers if r.status_code != 201]
    seats = [
        (ln["seat"]["section"], ln["seat"]["row"], ln["seat"]["number"]) for r in answers for ln in r.json()["lines"]
    ]
    assert len(seats) == len(set(seats)) == 16
    assert len(live._by_session) == 1


async def test_concurrent_first_reads_share_one_view(runtime):
    world = await seating_world(runtime)
    live = LiveSeats()

    async def read():  # noqa: ANN202
        async with runtime.uow(readonly=True) as uow:
            return await live.seats(uow, world.organizer_id, world.session_id)

    views = await asyncio.gather(*(read() for _ in range(6)))
    assert all(v is views[0] for v in views)
