"""The shop's seat answers under the micro-cache (shop_cache_seconds): availability and the map are shared per
process for at most the bound, then show what changed; a ``since`` answer is its own entry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from piaowu.core.clock import FrozenClock
from piaowu.runtime import Runtime, build_runtime
from piaowu.seating import session_seating
from piaowu.seating.availability import TAKEN, decode, unpack
from tests.conftest import make_settings
from tests.order_helpers import BUYER
from tests.seating_world import seating_world

TTL = 0.5


@pytest.fixture
async def runtime(tmp_path: Path, db_url: str, clock: FrozenClock) -> AsyncIterator[Runtime]:
    rt = build_runtime(make_settings(tmp_path, db_url, shop_cache_seconds=TTL), clock=clock)
    yield rt
    await rt.db.dispose()


async def test_seat_answers_are_at_most_the_bound_old(runtime, client, clock):
    world = await seating_world(runtime)
    base = f"/api/v1/shop/seat-theatre/sessions/{world.session_id}"
    first = (await client.get(f"{base}/seat-availability")).json()
    seat_map = await client.get(f"{base}/seat-map")
    item = {"product": "seat", "selection": {"ticket_type_id": world.adult_id, "seats": [world.seat_ids[0]]}}
    r = await client.post("/api/v1/shop/seat-theatre/orders", json={"items": [item], "buyer": BUYER})
    assert r.status_code == 201
    async with runtime.uow() as uow:
        await session_seating.set_zone_prices(uow, world.actor, world.session_id, [("A", world.adult_id, 100)])
        await uow.commit()
    assert (await client.get(f"{base}/seat-availability")).json() == first  # the shared answer, within the bound
    assert (await client.get(f"{base}/seat-map")).content == seat_map.content
    # Past the bound: the micro-cache ages on the injected clock, the worker's read of seat states (seating.live,
    # which a background task keeps current) on the process's monotonic clock — so both move on.
    clock.advance(timedelta(seconds=TTL))
    await asyncio.sleep(TTL + 0.05)
    now = (await client.get(f"{base}/seat-availability")).json()
    assert now["version"] != first["version"] and unpack(decode(now["states"]), 60)[0] == TAKEN
    delta = (await client.get(f"{base}/seat-availability", params={"since": first["version"]})).json()
    assert delta["changes"] == [[0, TAKEN]]
    fresh_map = await client.get(f"{base}/seat-map")
    assert fresh_map.headers["etag"] != seat_map.headers["etag"]
    assert fresh_map.json()["zones"][1]["prices"] == []  # zone B is no longer sold
