"""A worker that has not read a seated session yet, asked by many buyers at once (a sale opening): every order
is answered, each seat goes to one order, and the worker reads the seats once."""

from __future__ import annotations

import asyncio

import pytest

from piaowu.seating.live import LIVE_KEY, LiveSeats
from tests.order_helpers import BUYER
from tests.seating_world import seating_world


async def snapshot(registry: LiveSeats, uow, world, **kw):  # noqa: ANN001, ANN003, ANN201
    live = await registry.seats(uow, world.organizer_id, world.session_id)
    return live, await registry.refresh(uow, world.organizer_id, live, **kw)


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


async def test_a_fuller_house_is_read_by_one_aggregate_with_the_same_states(runtime, client, monkeypatch):
    """Past a quarter of the house taken, a full read on PostgreSQL is one aggregate of every seat's state; the
    states and counts are those the units' masks give (SQLite reads the masks each time)."""
    from piaowu.seating import live as live_mod
    from piaowu.seating import repository as repo
    from piaowu.seating.availability import BLOCKED, FREE, TAKEN, pack

    world = await seating_world(runtime, blocked=[("B", "3", "10")])
    sold = world.seat_ids[:30]
    for k in range(0, 30, 10):
        selection = {"ticket_type_id": world.adult_id, "seats": sold[k : k + 10]}
        body = {"items": [{"product": "seat", "selection": selection}], "buyer": BUYER}
        r = await client.post(f"/api/v1/shop/{world.tenant.slug}/orders", json=body)
        assert r.status_code == 201, r.text
    aggregates = []
    real = repo.seat_states

    async def spy(*args):  # noqa: ANN002, ANN202
        aggregates.append(await real(*args))
        return aggregates[-1]

    monkeypatch.setattr(repo, "seat_states", spy)
    # The full read, as every FULL_READ_SECONDS (else PostgreSQL reads the changes since the first read):
    # tests/api/test_seating_changed_reads.py.
    monkeypatch.setattr(live_mod, "CHANGES_ABOVE", 1.0)
    live = live_mod.LiveSeats()
    expected = [TAKEN if s in sold else FREE for s in world.seat_ids]
    expected[world.seat_ids.index(world.seat("B", "3", "10"))] = BLOCKED
    snaps = []
    for _ in range(2):
        async with runtime.uow(readonly=True) as uow:
            snaps.append((await snapshot(live, uow, world))[1])
    assert [s.packed for s in snaps] == [pack(expected)] * 2
    assert snaps[0].zones == snaps[1].zones == {"A": {"free": 0, "total": 30}, "B": {"free": 29, "total": 30}}
    assert len(aggregates) == 1  # the first read knew nothing of the house: the masks of the seats not free
    assert (aggregates[0] is not None) == runtime.settings.database_url.startswith("postgresql")
    assert list(live._by_session.values())[0].states == bytearray(expected)


async def test_best_available_does_not_queue_behind_a_read_under_way(runtime):
    """While one request reads the states, another that may use an older view (best available) takes the last
    one at once; one that needs them now (the availability answer) waits for the read."""
    world = await seating_world(runtime)
    live = LiveSeats()
    async with runtime.uow(readonly=True) as uow:
        view, first = await snapshot(live, uow, world)
    view.read_at -= 60  # old
    async with view.lock, runtime.uow(readonly=True) as uow:  # a read under way
        # The lock is held all along: a request queued behind it would never end, so 10 s is only for a slow machine.
        _, snap = await asyncio.wait_for(snapshot(live, uow, world, max_age=1.0), 10)
        assert snap is first
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(snapshot(live, uow, world), 0.3)
