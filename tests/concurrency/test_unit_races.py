"""Many buyers, the same seats: a leg of a unit is never owned twice, on SQLite and PostgreSQL.

Every buyer, releaser and refunder is its own task with its own unit of work (own connection, own
transaction), started together with ``asyncio.gather``. After each race the units' ``occupied`` masks and the
pool counters must equal the claims and takes they summarise (``unit_books`` below); each race has its control
run with the guard switched off (the naive check-then-act strategy, or a refund without its exactly-once mark),
which must break those equalities — otherwise the race test would be blind.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from piaowu.core.errors import SeatTaken
from piaowu.inventory import repository as inventory_repo
from piaowu.inventory import service as inventory
from piaowu.inventory.models import HoldUnit
from piaowu.inventory.rules import Claim, Take, span_mask
from piaowu.inventory.service import STRATEGY_KEY
from piaowu.runtime import Runtime
from tests.concurrency.engine_books import engine_books
from tests.concurrency.ledger import in_uow, settle, warm
from tests.concurrency.naive import NaiveStrategy
from tests.concurrency.test_inventory_races import SplitTransactionNaive

pytestmark = pytest.mark.slow


@asynccontextmanager
async def naive_reserve(runtime):  # noqa: ANN001, ANN201
    """The naive strategy for the block (see test_inventory_races.naive_reserve). Its reads on PostgreSQL get
    a small engine of their own: the server is shared, and hundreds of buyers must not open a connection each."""
    engine = None
    if runtime.db.dialect == "sqlite":
        runtime.strategies[STRATEGY_KEY] = SplitTransactionNaive(runtime.db.read_sessions)
    else:
        engine = create_async_engine(runtime.db.url, pool_size=8, max_overflow=0, pool_timeout=60)
        runtime.strategies[STRATEGY_KEY] = NaiveStrategy(async_sessionmaker(engine, expire_on_commit=False))
    try:
        yield
    finally:
        runtime.strategies.pop(STRATEGY_KEY)
        if engine is not None:
            await engine.dispose()


@dataclass
class Books:
    double_owned: list[tuple[str, int, int]]  # (unit, mask, mask) of two live claims sharing a leg
    occupied_wrong: list[tuple[str, int, int]]  # (unit, occupied, OR of its live claims)
    owners: dict[str, list[int]]  # unit → the masks of its live claims
    held: int
    sold: int
    held_rows: int
    sold_rows: int  # converted takes − returned claims (every claim in these races came with one counter unit)

    @property
    def sound(self) -> bool:
        return (
            not self.double_owned
            and not self.occupied_wrong
            and (self.held, self.sold)
            == (
                self.held_rows,
                self.sold_rows,
            )
        )


async def unit_books(rt: Runtime, pool_id: str, unit_ids: Sequence[str]) -> Books:
    """A claim is live while its hold is active, or converted and not returned: its legs must be set, and
    no two live claims of a unit may share a leg (``engine_books``)."""
    books = await engine_books(rt, [pool_id], unit_ids)
    pool = books.pools[pool_id]
    sold_rows = pool.converted_rows - sum(books.returned.values())
    return Books(
        books.double_owned, books.occupied_wrong, books.owners, pool.held, pool.sold, pool.held_rows, sold_rows
    )


async def seats(rt: Runtime, org: str, n: int, *, legs: int = 1, capacity: int = 10_000) -> tuple[str, list[str]]:
    async def make(uow):  # noqa: ANN001, ANN202
        pool = await inventory.create_pool(uow, org, kind="session", capacity=capacity)
        return pool, await inventory.create_units(uow, org, [f"S{i}" for i in range(n)], legs=legs, pool_id=pool)

    return await in_uow(rt, make)


async def claim(rt: Runtime, org: str, pool: str, claims: Sequence[Claim]) -> inventory.HoldInfo:
    """One buyer: a counter unit of the pool per claimed unit, and the claims, in one reservation."""
    return await in_uow(
        rt,
        lambda uow: inventory.reserve(
            uow,
            org,
            [Take(pool, len(claims))],
            claims=claims,
            expires_at=uow.now() + timedelta(minutes=15),
        ),
    )


def overlapping_seat_sets(unit_ids: list[str], buyers: int, seed: int) -> list[list[Claim]]:
    """Each buyer asks for 1–4 adjacent seats starting anywhere: neighbours' sets overlap."""
    rnd = random.Random(seed)
    asks = []
    for _ in range(buyers):
        k = rnd.randint(1, 4)
        start = rnd.randrange(len(unit_ids) - k + 1)
        asks.append([Claim(u, 1) for u in unit_ids[start : start + k]])
    return asks


async def seat_race(runtime, org: str):  # noqa: ANN001, ANN201
    pool, unit_ids = await seats(runtime, org, 60)
    asks = overlapping_seat_sets(unit_ids, 200, seed=11)
    await warm(runtime, 16)
    outcomes = await settle(claim(runtime, org, pool, a) for a in asks)
    return pool, unit_ids, asks, outcomes


async def test_two_hundred_buyers_claiming_overlapping_seat_sets(runtime, tenant):
    pool, unit_ids, asks, outcomes = await seat_race(runtime, tenant.organizer_id)
    assert all(isinstance(o, inventory.HoldInfo | SeatTaken) for o in outcomes), [
        repr(o) for o in outcomes if not isinstance(o, inventory.HoldInfo | SeatTaken)
    ][:3]
    books = await unit_books(runtime, pool, unit_ids)
    assert books.sound, books
    won = [a for a, o in zip(asks, outcomes, strict=True) if isinstance(o, inventory.HoldInfo)]
    assert books.held == sum(len(a) for a in won)
    assert all(len(ms) <= 1 for ms in books.owners.values())
    # Every loser is told which of its seats were taken, and those seats are owned by someone else (seats only
    # get taken in this race).
    owned = {u for u, ms in books.owners.items() if ms}
    for a, o in zip(asks, outcomes, strict=True):
        if isinstance(o, SeatTaken):
            taken = o.data["unit_ids"]
            assert taken and set(taken) <= {c.unit_id for c in a}, (a, taken)
            assert set(taken) <= owned
            assert o.data["pool_ids"] == []
    assert 0 < len(won) < len(asks)


async def test_control_naive_claims_sell_a_seat_twice(runtime, tenant):
    async with naive_reserve(runtime):
        pool, unit_ids, _, outcomes = await seat_race(runtime, tenant.organizer_id)
    assert all(isinstance(o, inventory.HoldInfo | SeatTaken) for o in outcomes), [repr(o) for o in outcomes[:3]]
    books = await unit_books(runtime, pool, unit_ids)
    assert books.double_owned, "the naive strategy should sell a seat twice; the race test is blind"


def journeys(unit_ids: list[str], buyers: int, stops: int, seed: int) -> list[tuple[str, int, int]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(buyers):
        a, b = sorted(rnd.sample(range(stops), 2))
        out.append((rnd.choice(unit_ids), a, b))
    return out


async def route_race(runtime, org: str):  # noqa: ANN001, ANN201
    stops = 10
    pool, unit_ids = await seats(runtime, org, 50, legs=stops - 1)
    trips = journeys(unit_ids, 500, stops, seed=5)
    await warm(runtime, 16)
    outcomes = await settle(claim(runtime, org, pool, [Claim(u, span_mask(a, b))]) for u, a, b in trips)
    return pool, unit_ids, trips, outcomes


async def test_a_ten_stop_route_fifty_seats_five_hundred_buyers(runtime, tenant):
    pool, unit_ids, trips, outcomes = await route_race(runtime, tenant.organizer_id)
    assert all(isinstance(o, inventory.HoldInfo | SeatTaken) for o in outcomes), [
        repr(o) for o in outcomes if not isinstance(o, inventory.HoldInfo | SeatTaken)
    ][:3]
    books = await unit_books(runtime, pool, unit_ids)
    assert books.sound, books
    sold = [t for t, o in zip(trips, outcomes, strict=True) if isinstance(o, inventory.HoldInfo)]
    # Leg occupancy equals what was sold: for every leg, the seats occupied on it are the journeys over it.
    async with runtime.uow(readonly=True) as uow:
        states = await inventory.unit_states(uow, tenant.organizer_id, unit_ids)
    for leg in range(9):
        on_leg = sum(1 for s in states.values() if s.occupied >> leg & 1)
        assert on_leg == sum(1 for _, a, b in sold if a <= leg < b), leg
    # A seat sold A→B and B→C to two buyers is allowed, and happened here.
    by_seat = defaultdict(list)
    for u, a, b in sold:
        by_seat[u].append((a, b))
    assert any(x[1] == y[0] for js in by_seat.values() for x in js for y in js), "no seat was shared end to end"
    for (u, a, b), o in zip(trips, outcomes, strict=True):
        if isinstance(o, SeatTaken):
            assert o.data["unit_ids"] == [u]
            assert states[u].occupied & span_mask(a, b)  # the refusal was right: a leg of it is sold


async def test_control_naive_route_claims_give_a_leg_two_owners(runtime, tenant):
    async with naive_reserve(runtime):
        pool, unit_ids, _, _ = await route_race(runtime, tenant.organizer_id)
    books = await unit_books(runtime, pool, unit_ids)
    assert books.double_owned, "the naive strategy should give a leg two owners; the race test is blind"


Refund = Callable[[Runtime, str, str, str], Awaitable[int]]


async def refund(rt: Runtime, org: str, pool: str, hold_id: str) -> int:
    """A refunder, as an order line would do it: the counter unit comes back with each claim it returned."""

    async def work(uow):  # noqa: ANN001, ANN202
        returned = await inventory.return_claims(uow, hold_id)
        if returned:
            await inventory.return_sold(uow, org, [Take(pool, len(returned))])
        return len(returned)

    return await in_uow(rt, work)


async def naive_refund(rt: Runtime, org: str, pool: str, hold_id: str) -> int:
    """The bug: the claims to return are read in a transaction of their own, then returned unconditionally."""
    async with rt.db.read_sessions() as reader:
        claims = list(
            (
                await reader.execute(
                    select(HoldUnit).where(HoldUnit.hold_id == hold_id, HoldUnit.returned_at.is_(None))
                )
            ).scalars()
        )
    await asyncio.sleep(0.001)

    async def work(uow):  # noqa: ANN001, ANN202
        await inventory_repo.vacate(uow.session, claims)
        for c in claims:
            await uow.session.execute(update(HoldUnit).where(HoldUnit.id == c.id).values(returned_at=uow.now()))
        if claims:
            await inventory.return_sold(uow, org, [Take(pool, len(claims))])
        return len(claims)

    return await in_uow(rt, work)


async def release_refund_race(runtime, org: str, clock, do_refund: Refund) -> tuple[str, list, Books, list]:  # noqa: ANN001
    """40 seats: 20 held (to be released or expired), 20 sold (to be refunded). Then, all at once: two
    releasers and two expiry sweepers per held hold, a releaser and two refunders per sold hold, and 40 buyers
    who want the seats back."""
    pool, unit_ids = await seats(runtime, org, 40)
    holds = [await claim(runtime, org, pool, [Claim(u, 1)]) for u in unit_ids]
    held, sold = holds[:20], holds[20:]
    # General admission sold from the same pool: a counter returned twice then shows as a wrong ``sold``
    # rather than as the database's ``sold >= 0`` check refusing it.
    admission = await in_uow(runtime, lambda uow: inventory.reserve(uow, org, [Take(pool, 40)], expires_at=uow.now()))
    for h in [*sold, admission]:
        await in_uow(runtime, lambda uow, h=h: inventory.confirm(uow, h.id))
    clock.advance(timedelta(minutes=16))
    await warm(runtime, 16)

    async def release(hold_id: str, expired: bool) -> bool:
        return await in_uow(runtime, lambda uow: inventory.release(uow, hold_id, expired=expired))

    async def sweep() -> int:
        due = await in_uow(runtime, lambda uow: inventory.due_holds(uow))
        return sum([await release(h, True) for h in due])

    # Fresh coroutines for every task (``[coro] * 2`` would await one coroutine twice: gather dedups it).
    tasks = [release(h.id, False) for _ in range(2) for h in held] + [sweep(), sweep()]
    tasks += [release(h.id, False) for h in sold]
    tasks += [do_refund(runtime, org, pool, h.id) for _ in range(2) for h in sold]
    rnd = random.Random(3)
    buyers = [claim(runtime, org, pool, [Claim(rnd.choice(unit_ids), 1)]) for _ in range(40)]
    tasks = [*tasks, *buyers]
    order = list(range(len(tasks)))
    rnd.shuffle(order)
    shuffled = await settle(tasks[i] for i in order)
    outcomes = [None] * len(tasks)
    for pos, i in enumerate(order):
        outcomes[i] = shuffled[pos]
    return pool, outcomes, await unit_books(runtime, pool, unit_ids), [h.id for h in held]


async def test_releases_expiries_and_refunds_give_seats_and_counters_back_exactly_once(runtime, tenant, clock):
    pool, outcomes, books, held = await release_refund_race(runtime, tenant.organizer_id, clock, refund)
    n = len(held)
    releases, sweeps = outcomes[: 2 * n], outcomes[2 * n : 2 * n + 2]
    late_releases, refunds = outcomes[2 * n + 2 : 3 * n + 2], outcomes[3 * n + 2 : 5 * n + 2]
    bought = outcomes[5 * n + 2 :]
    errors = [o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, SeatTaken)]
    assert not errors, errors[:3]
    # Each held hold was closed by exactly one of its releasers and the sweepers; a sold hold never is.
    assert sum(releases) + sum(sweeps) == n and not any(late_releases)
    # Each sold seat was refunded by exactly one of its two refunders.
    assert [refunds[i] + refunds[n + i] for i in range(n)] == [1] * n
    assert books.sound, books
    assert books.sold == 40 and books.held == sum(isinstance(o, inventory.HoldInfo) for o in bought)


async def test_control_a_refund_without_its_mark_returns_twice(runtime, tenant, clock):
    pool, outcomes, books, _ = await release_refund_race(runtime, tenant.organizer_id, clock, naive_refund)
    assert not [o for o in outcomes if isinstance(o, IntegrityError)]
    assert books.sold_rows > books.sold, "the naive refund should return twice; the race test is blind"
    # Nothing is asserted of seat owners here: a naive second return may clear the bit of a buyer who took the
    # seat in between, and whether another buyer then claims it too depends on the interleaving.
