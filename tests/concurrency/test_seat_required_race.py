"""A counted (general-admission) order racing the assignment of a layout to its session, on SQLite and
PostgreSQL: the order's statement starts while ``assign_layout`` holds the session pool's row and has not
committed yet, so the order's own reads (its offer, the offer's check in the statement) still see a session
without seats. It must not take the pool without a seat all the same: the take of a counted ticket carries a
condition on the pool's row (``kind`` is not ``seats``), which PostgreSQL re-evaluates on the row's latest version
when the wait ends; on SQLite the order's write transaction waits for the assignment to commit and reads after
it. Afterwards the next order (from the offer now cached as unseated) is refused with ``seat_required``.

The control takes the session pool with the plain take (no condition on the row): on PostgreSQL the waiting order
then holds the pool without a seat — the known gap this closes.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from piaowu.core.errors import SeatRequired, SoldOut
from piaowu.inventory import strategies
from piaowu.inventory.models import Pool
from piaowu.runtime import Runtime
from piaowu.seating import session_seating
from tests.concurrency.ledger import buy
from tests.seating_world import SeatingWorld, seating_world, unseated_session


async def _waiting_for_a_lock(rt: Runtime) -> None:
    """PostgreSQL: until some other backend waits for a row lock (the order's take, behind the assignment).
    SQLite: a moment (the order's ``BEGIN IMMEDIATE`` waits for the database's write lock)."""
    if rt.db.dialect != "postgresql":
        await asyncio.sleep(0.3)
        return
    for _ in range(200):
        async with rt.db.write_engine.connect() as conn:
            waiting = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                )
            ).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the order never waited for the pool's row")


async def _race(rt: Runtime) -> tuple[BaseException | None, int, SeatingWorld, str]:
    world = await seating_world(rt)
    session_id, tt, pool = await unseated_session(rt, world)
    order: asyncio.Task | None = None
    async with rt.uow() as uow:
        await session_seating.assign_layout(uow, world.actor, session_id, world.layout_id)  # the pool's row: locked
        order = asyncio.create_task(buy(rt, world.actor, tt, 2))
        await _waiting_for_a_lock(rt)
        await uow.commit()
    try:
        await order
        refusal = None
    except (SeatRequired, SoldOut) as exc:
        refusal = exc
    async with rt.uow(readonly=True) as uow:
        # What counted takes took: the pool row's own counter (a seats-only pool's ``held`` as ``inventory.counts``
        # reads it is its seats' claims, which a seatless ticket does not make — it would be sold beside them).
        held = (await uow.session.execute(select(Pool.held).where(Pool.id == pool))).scalar_one()
    return refusal, held, world, tt


async def test_a_counted_order_waiting_behind_a_layout_assignment_takes_no_seatless_ticket(runtime):  # noqa: ANN001
    refusal, held, world, tt = await _race(runtime)
    assert refusal is not None, "a counted order was sold in a session that now sells seats alone"
    assert held == 0
    # The offer this process cached during the race says "no seats": the next order's statement finds it stale.
    with pytest.raises(SeatRequired):
        await buy(runtime, world.actor, tt, 1)


async def test_control_a_plain_take_sells_a_seatless_ticket_behind_the_assignment(runtime, monkeypatch):  # noqa: ANN001
    """PostgreSQL: caught (the waiting order's statement saw a session without seats). SQLite serializes whole
    write transactions, so there the order reads after the assignment and its offer alone refuses it."""
    monkeypatch.setattr(strategies, "SEATLESS_TAKE", strategies.TAKE)
    refusal, held, _, _ = await _race(runtime)
    if runtime.db.dialect == "postgresql":
        assert refusal is None and held == 2
    else:
        assert isinstance(refusal, SeatRequired) and held == 0
