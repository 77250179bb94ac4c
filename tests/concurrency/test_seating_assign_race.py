"""Operators giving a session another seat layout while buyers claim its seats, on SQLite and PostgreSQL.

8 operators assign one of two layouts (60 or 20 seats) while 40 buyers each claim 1–3 seats of the seats the
session had when they looked, all at once. A buyer claims seats only, as a seat order does: the seat is the
session pool's unit, and the pool's row is not taken (``inventory.rules.SEATS_ONLY``). ``assign_layout`` checks
"nothing held or sold" by locking the session's seat units and reading them (``inventory.lock_seats_unclaimed``),
after a conditional update of the pool's row (admission sold before the layout), so afterwards:

- no buyer holds a unit that is no longer a seat of the session (a layout never replaced seats under a hold);
- the session's seats, its seating's seat count and the pool's capacity agree, and the pool has no unit but
  those seats (replaced seats left the pool);
- the pool's ``held`` (its seats' live claims) is what the active holds claimed, and each refusal is one of the
  expected ones.

The control run checks "nothing held" with a read first and then assigns without either guard (the
check-then-act bug): some buyer then holds a seat that the session no longer sells.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import func, select, update

from piaowu.core.errors import SeatingLocked, SeatTaken
from piaowu.inventory import repository as inventory_repo
from piaowu.inventory import service as inventory
from piaowu.inventory.models import Hold, HoldUnit, Pool, Unit
from piaowu.inventory.rules import Claim
from piaowu.runtime import Runtime
from piaowu.seating import layout_service, session_seating
from piaowu.seating.models import SessionSeat, SessionSeating
from tests.concurrency.ledger import codes, settle, warm
from tests.seating_world import SeatingWorld, seating_world, two_zone_map

pytestmark = pytest.mark.slow

OPERATORS, BUYERS = 8, 40
T = TypeVar("T")
Assign = Callable[[Runtime, SeatingWorld, str], Awaitable[None]]


async def naive_assign(rt: Runtime, world: SeatingWorld, layout_id: str) -> None:
    """The bug: "nothing held or sold" read in a transaction of its own, then the layout assigned with the pool
    resized blindly (no condition on the row) and the seats replaced without locking them."""
    async with rt.uow(readonly=True) as uow:
        pool = (await inventory.counts(uow, world.organizer_id, [world.pool_id]))[world.pool_id]
    if pool.held or pool.sold:
        raise SeatingLocked()
    await asyncio.sleep(0.01)
    await _assign(rt, world, layout_id)


async def blind_resize(uow, organizer_id: str, pool_id: str, capacity: int, *, kind: str | None = None) -> bool:  # noqa: ANN001
    """The control's resize: no condition on what is held or sold (the caller checked, in the past)."""
    values = {"capacity": capacity} if kind is None else {"capacity": capacity, "kind": kind}
    await uow.session.execute(update(Pool).where(Pool.id == pool_id).values(**values))
    return True


async def unguarded_seats(uow, organizer_id: str, pool_id: str) -> bool:  # noqa: ANN001
    """The control's seat check: none (the caller checked, in the past)."""
    return True


async def _assign(rt: Runtime, world: SeatingWorld, layout_id: str) -> None:
    async with rt.uow() as uow:
        await session_seating.assign_layout(uow, world.actor, world.session_id, layout_id)
        await uow.commit()


async def _later(delay: float, work: Awaitable[T]) -> T:
    await asyncio.sleep(delay)
    return await work


async def _buy(rt: Runtime, world: SeatingWorld, rng: random.Random) -> str:
    """A buyer looks at the seats the session sells now, picks 1–3 and claims them (the map may change between);
    seats taken or gone, they look again, a few times."""
    for attempt in range(4):
        async with rt.uow(readonly=True) as uow:
            seats = await session_seating.session_seats(uow, world.organizer_id, world.session_id)
        picked = rng.sample([seat.unit_id for seat in seats], rng.randint(1, 3))
        try:
            async with rt.uow() as uow:
                hold = await inventory.reserve(
                    uow,
                    world.organizer_id,
                    [],
                    claims=[Claim(s, 1) for s in picked],
                    expires_at=uow.now() + timedelta(minutes=15),
                )
                await uow.commit()
            return hold.id
        except SeatTaken:
            if attempt == 3:
                raise
            await asyncio.sleep(0.01)
    raise AssertionError("unreachable")


async def _race(rt: Runtime, world: SeatingWorld, assign: Assign = _assign) -> tuple[list[object], dict[str, int]]:
    async with rt.uow() as uow:
        small = await layout_service.save_layout(
            uow, world.actor, world.venue_id, "Small", two_zone_map(rows_a=1, rows_b=1)
        )
        await uow.commit()
    layouts = [small.id, world.layout_id]
    rng = random.Random(8)
    await warm(rt, 10)
    # Operators come over up to 160 ms, buyers from 5 ms to 45 ms: the first operators meet no hold yet, the
    # later ones meet buyers before and after them.
    tasks = [_later(rng.random() * 0.02 * (1 + i), assign(rt, world, layouts[i % 2])) for i in range(OPERATORS)]
    tasks += [_later(0.005 + rng.random() * 0.04, _buy(rt, world, random.Random(rng.random()))) for _ in range(BUYERS)]
    outcomes = await settle(tasks)
    async with rt.uow(readonly=True) as uow:
        s = uow.session
        seats = set(
            (await s.execute(select(SessionSeat.unit_id).where(SessionSeat.session_id == world.session_id))).scalars()
        )
        seating = (
            await s.execute(select(SessionSeating).where(SessionSeating.session_id == world.session_id))
        ).scalar_one()
        pool = (await inventory.counts(uow, world.organizer_id, [world.pool_id]))[world.pool_id]
        in_pool = set((await s.execute(select(Unit.id).where(Unit.pool_id == world.pool_id))).scalars())
        held_units = set(
            (
                await s.execute(
                    select(HoldUnit.unit_id).join(Hold, Hold.id == HoldUnit.hold_id).where(Hold.status == "active")
                )
            ).scalars()
        )
        held_rows = (
            await s.execute(
                select(func.count())
                .select_from(HoldUnit)
                .join(Hold, Hold.id == HoldUnit.hold_id)
                .where(Hold.status == "active")
            )
        ).scalar()
    facts = {
        "orphan_holds": len(held_units - seats),
        "seats": len(seats),
        "seat_count": seating.seat_count,
        "capacity": pool.capacity,
        "strays_in_pool": len(in_pool - seats),
        "held": pool.held,
        "held_rows": held_rows,
    }
    return outcomes, facts


async def test_a_layout_never_replaces_seats_under_a_hold(runtime, tenant):
    world = await seating_world(runtime, tenant)
    outcomes, facts = await _race(runtime, world)
    got = codes(outcomes)
    unexpected = [repr(o)[:500] for o in outcomes if isinstance(o, BaseException) and not hasattr(o, "code")]
    assert set(got) <= {"ok", "seating_locked", "seat_taken", "sold_out"}, (got, unexpected[:3])
    assert got["ok"] > OPERATORS // 2, got  # buyers got seats (the control shows the same timing finds the bug)
    assert facts["orphan_holds"] == 0, facts
    assert facts["seats"] == facts["seat_count"] == facts["capacity"], facts
    assert facts["strays_in_pool"] == 0 and facts["held"] == facts["held_rows"], facts


async def test_control_check_then_act_replaces_seats_under_holds(runtime, tenant, monkeypatch):
    world = await seating_world(runtime, tenant)
    monkeypatch.setattr(inventory, "resize_unused", blind_resize)
    monkeypatch.setattr(inventory, "lock_seats_unclaimed", unguarded_seats)
    found = []
    for _ in range(5):  # a race may be lost by chance; the bug shows within a few rounds
        outcomes, facts = await _race(runtime, world, naive_assign)
        found.append(facts["orphan_holds"])
        if facts["orphan_holds"]:
            break
        # Start the next round from a session that sells its seats again (nothing held).
        async with runtime.uow() as uow:
            for hold_id in await inventory_repo.due_holds(uow.session, uow.now() + timedelta(days=1), 500):
                await inventory.release(uow, hold_id)
            await uow.commit()
    assert any(found), f"the control never held a seat the session no longer sells: {found}"
