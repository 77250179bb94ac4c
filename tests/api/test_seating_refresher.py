"""Best available's view of a seated session kept by a per-worker background refresher (``seating.live``): a
buyer's request reads no seat states, the view follows sales within the refresh period, the refresher stops when
idle and logs (never raises) a failed read; after ``seat_taken`` the view marks the lost seats and chooses again
without reading every state; zone prices are cached per worker and a changed price is never charged."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from piaowu.seating import live as live_mod
from piaowu.seating import session_seating
from piaowu.seating.availability import FREE, TAKEN
from piaowu.seating.live import LIVE_KEY, LiveSeats
from tests.order_helpers import BUYER
from tests.seating_world import PRICES, seating_world


def best_item(tt: str, quantity: int, zone: str | None = "A") -> dict:
    return {
        "product": "seat",
        "selection": {"ticket_type_id": tt, "best_available": {"zone": zone, "quantity": quantity}},
    }


def seats_item(tt: str, seats: list[str]) -> dict:
    return {"product": "seat", "selection": {"ticket_type_id": tt, "seats": seats}}


async def buy(client, slug: str, *items: dict):  # noqa: ANN001, ANN201
    return await client.post(f"/api/v1/shop/{slug}/orders", json={"items": list(items), "buyer": BUYER})


def on_request() -> bool:
    """Not in a background refresher's task."""
    task = asyncio.current_task()
    return task is None or not task.get_name().startswith("seating-refresh")


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times a request read the seats' states (``_read_states``: every way ``refresh`` reads; the
    refresher's own reads are not counted)."""
    reads = [0]
    real_states = live_mod._read_states

    async def states(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        reads[0] += on_request()
        return await real_states(*a, **kw)

    monkeypatch.setattr(live_mod, "_read_states", states)
    return reads


async def wait_for(cond, seconds: float = 5.0) -> bool:  # noqa: ANN001
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(0.05)
    return cond()


async def test_the_refresher_follows_sales_and_requests_read_nothing(runtime, client, monkeypatch):
    world = await seating_world(runtime)
    registry = LiveSeats()
    runtime.strategies[LIVE_KEY] = registry
    monkeypatch.setattr(live_mod, "REFRESH_SHARE", 0.2)  # every 0.2 s
    slug = world.tenant.slug
    r = await buy(client, slug, best_item(world.adult_id, 2))
    assert r.status_code == 201, r.text
    assert registry.refreshers() == 1
    live = next(iter(registry._by_session.values()))
    # Sold behind this view's back (another worker, say): the refresher shows it without any request.
    other = world.seat("B", "3", "10")
    monkeypatch.setitem(runtime.strategies, LIVE_KEY, LiveSeats())
    assert (await buy(client, slug, seats_item(world.adult_id, [other]))).status_code == 201
    monkeypatch.setitem(runtime.strategies, LIVE_KEY, registry)
    ordinal = live.seats.by_unit[other].ordinal
    assert await wait_for(lambda: live.states[ordinal] == TAKEN)
    # A best-available order takes the refresher's view: no read of the states on its request.
    reads = count_reads(monkeypatch)
    monkeypatch.setattr(live_mod, "REFRESH_SHARE", 100.0)
    live.refresh_every = 100.0  # the refresher sleeps through the order
    await asyncio.sleep(0.3)
    reads[0] = 0
    assert (await buy(client, slug, best_item(world.adult_id, 2, "B"))).status_code == 201
    assert reads[0] == 0


async def test_the_refresher_stops_when_idle_and_starts_again(runtime, client, monkeypatch):
    world = await seating_world(runtime)
    registry = LiveSeats()
    runtime.strategies[LIVE_KEY] = registry
    monkeypatch.setattr(live_mod, "REFRESH_SHARE", 0.1)
    monkeypatch.setattr(live_mod, "IDLE_SECONDS", 0.4)
    slug = world.tenant.slug
    assert (await buy(client, slug, best_item(world.adult_id, 1))).status_code == 201
    assert registry.refreshers() == 1
    assert await wait_for(lambda: registry.refreshers() == 0)
    live = next(iter(registry._by_session.values()))
    read_at = live.read_at
    await asyncio.sleep(0.3)
    assert live.read_at == read_at  # stopped: nothing read any more
    assert (await buy(client, slug, best_item(world.adult_id, 1))).status_code == 201
    assert registry.refreshers() == 1


async def test_a_failing_refresh_is_logged_not_raised(runtime, client, monkeypatch, caplog):
    world = await seating_world(runtime)
    registry = LiveSeats()
    runtime.strategies[LIVE_KEY] = registry
    monkeypatch.setattr(live_mod, "REFRESH_SHARE", 0.1)
    # Not idle until the failure is seen: on a loaded machine a short idle time could stop the refresher before
    # its first failing read, and the test would wait for a log line that never comes.
    monkeypatch.setattr(live_mod, "IDLE_SECONDS", 60.0)
    monkeypatch.setattr(live_mod, "ERROR_BACKOFF_SECONDS", 0.05)
    slug = world.tenant.slug
    assert (await buy(client, slug, best_item(world.adult_id, 1))).status_code == 201

    async def broken(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("database away")

    monkeypatch.setattr(live_mod, "_read_states", broken)
    with caplog.at_level(logging.WARNING, logger="piaowu.seating.live"):
        assert await wait_for(lambda: "refresh failed" in caplog.text)
        assert registry.refreshers() == 1  # still running after the failure
        monkeypatch.setattr(live_mod, "IDLE_SECONDS", 0.2)
        assert await wait_for(lambda: registry.refreshers() == 0)  # and stops when idle all the same


async def test_after_seat_taken_the_view_marks_the_lost_seats_and_chooses_again_without_a_read(
    runtime, client, monkeypatch
):
    world = await seating_world(runtime)
    registry = LiveSeats()
    runtime.strategies[LIVE_KEY] = registry
    monkeypatch.setattr(live_mod, "REFRESH_SHARE", 100.0)  # no background read during this test
    slug = world.tenant.slug
    first = await buy(client, slug, best_item(world.adult_id, 2))
    assert first.status_code == 201
    live = next(iter(registry._by_session.values()))
    # The seats best available would give next, bought behind this view's back: the view still shows them free.
    preview = await client.post(
        f"/api/v1/shop/{slug}/sessions/{world.session_id}/best-available", json={"zone": "A", "quantity": 2}
    )
    wanted = [s["id"] for s in preview.json()["seats"]]
    monkeypatch.setitem(runtime.strategies, LIVE_KEY, LiveSeats())
    assert (await buy(client, slug, seats_item(world.adult_id, wanted))).status_code == 201
    monkeypatch.setitem(runtime.strategies, LIVE_KEY, registry)
    assert all(live.states[live.seats.by_unit[u].ordinal] == FREE for u in wanted)
    reads = count_reads(monkeypatch)
    r = await buy(client, slug, best_item(world.adult_id, 2))
    assert r.status_code == 201, r.text  # lost the seats to the claim, chose again
    labels = {(ln["seat"]["section"], ln["seat"]["row"], ln["seat"]["number"]) for ln in r.json()["lines"]}
    assert not labels & {tuple(live.seats.by_unit[u].key) for u in wanted}
    assert all(live.states[live.seats.by_unit[u].ordinal] == TAKEN for u in wanted)  # marked in the view
    assert reads[0] == 0  # chosen again from the view, without reading every state
    assert len(labels) == 2


async def test_a_changed_zone_price_is_never_charged_from_the_cache(runtime, client):
    world = await seating_world(runtime)
    registry = LiveSeats()
    runtime.strategies[LIVE_KEY] = registry
    slug = world.tenant.slug
    r = await buy(client, slug, best_item(world.adult_id, 1))
    assert r.json()["lines"][0]["price_minor"] == PRICES["A"][0]
    async with runtime.uow() as uow:
        await session_seating.set_zone_prices(uow, world.actor, world.session_id, [("A", world.adult_id, 12300)])
        await uow.commit()
    r = await buy(client, slug, best_item(world.adult_id, 1))
    assert r.status_code == 201, r.text
    assert r.json()["lines"][0]["price_minor"] == 12300
