"""Operators keeping seats back while buyers claim them, on SQLite and PostgreSQL: a leg is never both kept back
(blocked) and held or sold.

200 buyers claim journeys on 40 seats of a 4-leg route while 40 operators block spans of 1–3 seats, all at
once. Afterwards no leg is occupied and blocked, each unit's ``occupied`` is the union of its claims and its
``blocked`` the union of the blocks that succeeded (a refused block left nothing), and every refusal named
legs that are occupied. The control run blocks with a check-then-act (a stale read, then an absolute write),
which must give some leg both a buyer and a block: otherwise the race test would be blind.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select, update

from piaowu.core.errors import LegsOccupied, SeatTaken
from piaowu.inventory import service as inventory
from piaowu.inventory.models import Unit
from piaowu.inventory.rules import Claim, beyond_legs, span_mask
from piaowu.runtime import Runtime
from tests.concurrency.engine_books import engine_books
from tests.concurrency.ledger import in_uow, settle, warm
from tests.concurrency.test_unit_races import claim, seats

pytestmark = pytest.mark.slow

LEGS = 4
Block = Callable[[Runtime, str, list[Claim]], Awaitable[None]]


async def block(rt: Runtime, org: str, blocks: list[Claim]) -> None:
    await in_uow(rt, lambda uow: inventory.block_legs(uow, org, blocks))


async def naive_block(rt: Runtime, org: str, blocks: list[Claim]) -> None:
    """The bug: the units are checked in a transaction of their own, then their ``blocked`` written as read."""
    async with rt.db.read_sessions() as reader:
        rows = (
            await reader.execute(
                select(Unit.id, Unit.occupied, Unit.blocked).where(Unit.id.in_([b.unit_id for b in blocks]))
            )
        ).all()
    seen = {r.id: (r.occupied, r.blocked) for r in rows}
    taken = {b.unit_id: [1] for b in blocks if seen[b.unit_id][0] & b.mask}
    if taken:
        raise LegsOccupied(unit_ids=sorted(taken), legs=taken)
    await asyncio.sleep(0.001)

    async def work(uow):  # noqa: ANN001, ANN202
        for b in blocks:
            await uow.session.execute(
                update(Unit).where(Unit.id == b.unit_id).values(blocked=seen[b.unit_id][1] | b.mask)
            )

    await in_uow(rt, work)


async def block_race(runtime, org: str, do_block: Block):  # noqa: ANN001, ANN201
    pool, units = await seats(runtime, org, 40, legs=LEGS)
    rnd = random.Random(13)
    journeys = []
    for _ in range(200):
        a, b = sorted(rnd.sample(range(LEGS + 1), 2))
        journeys.append([Claim(rnd.choice(units), span_mask(a, b))])
    keeps = []
    for _ in range(40):
        a, b = sorted(rnd.sample(range(LEGS + 1), 2))
        keeps.append([Claim(u, span_mask(a, b)) for u in rnd.sample(units, rnd.randint(1, 3))])
    await warm(runtime, 16)
    tasks = [claim(runtime, org, pool, j) for j in journeys] + [do_block(runtime, org, k) for k in keeps]
    order = list(range(len(tasks)))
    rnd.shuffle(order)
    shuffled = await settle(tasks[i] for i in order)
    outcomes: list = [None] * len(tasks)
    for pos, i in enumerate(order):
        outcomes[i] = shuffled[pos]
    async with runtime.uow(readonly=True) as uow:
        states = await inventory.unit_states(uow, org, units)
    books = await engine_books(runtime, [pool], units)
    return units, (journeys, keeps), outcomes[: len(journeys)], outcomes[len(journeys) :], states, books


async def test_a_block_racing_claims_never_keeps_back_a_sold_leg(runtime, tenant):
    units, (journeys, keeps), bought, blocked, states, books = await block_race(runtime, tenant.organizer_id, block)
    assert all(isinstance(o, inventory.HoldInfo | SeatTaken) for o in bought), [repr(o) for o in bought[:3]]
    assert all(o is None or isinstance(o, LegsOccupied) for o in blocked), [repr(o) for o in blocked[:3]]
    assert books.units_sound, (books.double_owned[:3], books.occupied_wrong[:3])
    both = {u: s.occupied & s.blocked for u, s in states.items() if s.occupied & s.blocked}
    assert not both, both
    # ``blocked`` is exactly the blocks that succeeded (and the legs the units do not have).
    kept = dict.fromkeys(units, beyond_legs(LEGS))
    for k, o in zip(keeps, blocked, strict=True):
        if o is None:
            for c in k:
                kept[c.unit_id] |= c.mask
    assert {u: s.blocked for u, s in states.items()} == kept
    # Every refusal named occupied legs of units it asked for (legs only get taken in this race).
    for k, o in zip(keeps, blocked, strict=True):
        if isinstance(o, LegsOccupied):
            asked = {c.unit_id: c.mask for c in k}
            assert set(o.data["unit_ids"]) <= set(asked) and o.data["unit_ids"]
            for u, legs in o.data["legs"].items():
                assert legs and all((states[u].occupied & asked[u]) >> leg & 1 for leg in legs), (u, legs)
    outcomes = [*bought, *blocked]
    assert any(o is None for o in blocked) and any(isinstance(o, LegsOccupied) for o in blocked)
    assert any(isinstance(o, inventory.HoldInfo) for o in outcomes)
    # And every refused buyer was right to be: a leg of its journey is kept back or taken.
    for (c,), o in zip(journeys, bought, strict=True):
        if isinstance(o, SeatTaken):
            assert (states[c.unit_id].occupied | states[c.unit_id].blocked) & c.mask, c


async def test_control_a_naive_block_keeps_back_a_sold_leg(runtime, tenant):
    _, _, _, _, states, _ = await block_race(runtime, tenant.organizer_id, naive_block)
    assert any(s.occupied & s.blocked for s in states.values()), (
        "the naive block should keep back a leg that was sold; the race test is blind"
    )
