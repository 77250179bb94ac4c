"""Two operators generate the same series for one event at the same moment: each start moment gets one session.

PostgreSQL only: SQLite runs one write transaction at a time (``BEGIN IMMEDIATE``), so the two generations cannot
interleave there. Both transactions are held at a barrier just before the event's lock, so they really overlap;
the control run replaces the lock with nothing (``tests/concurrency/naive.py``) and must see every session made
twice, which shows that the test catches it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, time

import pytest
from sqlalchemy import func, select

from piaowu.catalog import event_service, series_service
from piaowu.catalog import series_repository as srepo
from piaowu.catalog.models import Session
from piaowu.catalog.schemas import EventIn
from piaowu.catalog.series_schemas import SeriesIn
from piaowu.catalog.series_service import LOCK_STRATEGY_KEY
from piaowu.runtime import Runtime
from tests.concurrency.naive import no_series_lock
from tests.factories import owner_actor

DAYS = 10
PG = pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)

Lock = Callable[..., Awaitable[None]]


async def _race(rt: Runtime, tenant, lock: Lock) -> int:  # noqa: ANN001
    actor = await owner_actor(rt, tenant.owner_id)
    async with rt.uow() as uow:
        ev = await event_service.create_event(uow, actor, EventIn(name="Race", kind="attraction"))
        await uow.commit()
    barrier = asyncio.Barrier(2)

    async def at_the_barrier_then(session, organizer_id: str, event_id: str) -> None:  # noqa: ANN001
        await asyncio.wait_for(barrier.wait(), 10)
        await lock(session, organizer_id, event_id)

    rt.strategies[LOCK_STRATEGY_KEY] = at_the_barrier_then
    rule = SeriesIn(
        first_date=date(2026, 7, 1),
        last_date=date(2026, 7, DAYS),
        start_times=[time(9)],
        duration_minutes=480,
        capacity=100,
    )

    async def operator() -> None:
        async with rt.uow() as uow:
            await series_service.generate_series(uow, actor, ev.id, rule)
            await uow.commit()

    try:
        await asyncio.gather(operator(), operator())
    finally:
        rt.strategies.pop(LOCK_STRATEGY_KEY)
    async with rt.uow(readonly=True) as uow:
        q = select(func.count()).select_from(Session).where(Session.event_id == ev.id)
        return (await uow.session.execute(q)).scalar_one()


@PG
async def test_two_operators_generating_one_rule_make_each_session_once(runtime, tenant):
    assert await _race(runtime, tenant, srepo.lock_event) == DAYS


@PG
async def test_control_without_the_event_lock_every_session_is_made_twice(runtime, tenant):
    assert await _race(runtime, tenant, no_series_lock) == 2 * DAYS
