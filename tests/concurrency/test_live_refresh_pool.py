"""A seat view's read never waits for a pool connection while holding the view's lock.

With the lock taken first, a reader holding it while queued on the pool, and requests holding the pool's
connections while queued on the lock, waited for each other until the pool's timeout (30 s): seen as a "busy"
answer among 60 best-available buyers on a pool of 24 (test_seat_sale_races). Here the pool has one connection:
a request holds it and reads the view while another reader (the background refresher) has started its read."""

from __future__ import annotations

import asyncio
from pathlib import Path

from piaowu.runtime import build_runtime
from piaowu.seating.live import LiveSeats
from tests.conftest import make_settings
from tests.seating_world import seating_world


async def test_a_reader_queued_on_the_pool_holds_no_lock_that_the_connection_holder_needs(
    db_url: str,
    tmp_path: Path,
    clock,  # noqa: ANN001
) -> None:
    rt = build_runtime(make_settings(tmp_path, db_url, db_pool_size=1), clock=clock)
    try:
        world = await seating_world(rt)
        registry = LiveSeats()
        async with rt.uow(readonly=True) as first:
            live = await registry.seats(first, world.organizer_id, world.session_id)
            await registry.refresh(first, world.organizer_id, live)

        async def refresher_read() -> None:
            async with rt.uow(readonly=True) as bg:  # needs a connection: the request holds the only one
                await registry.refresh(bg, world.organizer_id, live)

        async with rt.uow(readonly=True) as request:
            await request.session.connection()  # the request holds the pool's one connection
            background = asyncio.create_task(refresher_read())
            await asyncio.sleep(0.2)  # the refresher has started its read and waits for the pool
            # The request reads the view now (max_age 0: a fresh read, as after "seat taken").
            snap = await asyncio.wait_for(registry.refresh(request, world.organizer_id, live), timeout=10)
            assert snap is live.snapshot
        await asyncio.wait_for(background, timeout=10)  # the request's connection went back: the refresher read
    finally:
        await rt.aclose()
