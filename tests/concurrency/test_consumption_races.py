"""Every consumption shape of DESIGN.md's table, raced at the engine level on SQLite and PostgreSQL.

A reservation that consumes several pools (a combo over three attractions; a hotel stay, one pool per night; a
flight booking class and its cabin) and units with legs (a room over a night range) takes all of it or
nothing, never past any capacity, and the counters and masks equal the holds they summarise
(``engine_books``). Closing a hold (payment, cancellation, expiry) racing refunds of sold holds moves every
counter and every leg exactly once. Each race has its control run with the guard switched off (the naive
check-then-act reserve of ``naive_reserve``, or a close without its conditional update), which must break
those books: otherwise the race test would be blind.

Every buyer is its own task with its own unit of work (own connection, own transaction), started together.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from piaowu.core.errors import HoldExpired, SeatTaken, SoldOut
from piaowu.inventory import repository as inventory_repo
from piaowu.inventory import service as inventory
from piaowu.inventory.models import Hold
from piaowu.inventory.rules import Claim, Take, span_mask
from piaowu.runtime import Runtime
from tests.concurrency.engine_books import EngineBooks, engine_books
from tests.concurrency.ledger import in_uow, settle, warm
from tests.concurrency.test_unit_races import naive_reserve

pytestmark = pytest.mark.slow

BUYERS = 200


@dataclass(frozen=True)
class Ask:
    takes: tuple[Take, ...]
    claims: tuple[Claim, ...] = ()


@dataclass
class World:
    pools: dict[str, str]  # name → pool id
    units: list[str] = field(default_factory=list)
    asks: list[Ask] = field(default_factory=list)


async def make_world(rt: Runtime, org: str, capacities: dict[str, int], *, units: int = 0, legs: int = 1) -> World:
    async def make(uow):  # noqa: ANN001, ANN202
        pools = {
            name: await inventory.create_pool(uow, org, kind="race", capacity=cap, label=name)
            for name, cap in capacities.items()
        }
        ids = await inventory.create_units(uow, org, [f"R{i}" for i in range(units)], legs=legs) if units else []
        return World(pools, ids)

    return await in_uow(rt, make)


async def buyer(rt: Runtime, org: str, ask: Ask) -> inventory.HoldInfo:
    return await in_uow(
        rt,
        lambda uow: inventory.reserve(
            uow, org, list(ask.takes), claims=list(ask.claims), expires_at=uow.now() + timedelta(minutes=15)
        ),
    )


async def race(rt: Runtime, org: str, world: World) -> tuple[list, EngineBooks]:
    await warm(rt, 16)
    outcomes = await settle(buyer(rt, org, a) for a in world.asks)
    return outcomes, await engine_books(rt, list(world.pools.values()), world.units)


def check_race(world: World, outcomes: list, books: EngineBooks) -> None:
    """All or nothing, never past any capacity, counters and masks equal to the holds, and every refusal right
    (pools only fill and units only get taken in these races, so what was refused is still short at the end)."""
    strays = [repr(o) for o in outcomes if not isinstance(o, inventory.HoldInfo | SoldOut)]
    assert not strays, strays[:3]
    won = [a for a, o in zip(world.asks, outcomes, strict=True) if isinstance(o, inventory.HoldInfo)]
    assert 0 < len(won) < len(world.asks), len(won)
    for name, pid in world.pools.items():
        book = books.pools[pid]
        assert book.within_capacity, (name, book)
        # Every winner took every one of its takes and no loser took any: the counter is exactly the winners'.
        assert book.held == book.held_rows == sum(t.quantity for a in won for t in a.takes if t.pool_id == pid), (
            name,
            book,
        )
    assert books.units_sound, (books.double_owned[:3], books.occupied_wrong[:3])
    for u in world.units:
        union = 0
        for a in won:
            for c in a.claims:
                union |= c.mask if c.unit_id == u else 0
        assert books.occupied[u] == union, u
    for ask, o in zip(world.asks, outcomes, strict=True):
        if not isinstance(o, SoldOut):
            continue
        short, taken = o.data["pool_ids"], o.data["unit_ids"]
        assert short or taken, o.data
        wanted = {t.pool_id: t.quantity for t in ask.takes}
        for pid in short:
            book = books.pools[pid]
            assert book.held + wanted[pid] > book.capacity, (pid, ask)
        masks = {c.unit_id: c.mask for c in ask.claims}
        for u in taken:
            assert books.occupied[u] & masks[u], (u, ask)
        assert isinstance(o, SeatTaken) == bool(taken)


def broken(world: World, books: EngineBooks) -> bool:
    """What the control runs must show: some pool past its capacity or counting other than its holds, or a leg
    with two owners / a mask other than its claims."""
    pools_wrong = any(not p.within_capacity or p.held != p.held_rows for p in books.pools.values())
    return pools_wrong or not books.units_sound


# --- the shapes -------------------------------------------------------------------------------------------------


async def combo(rt: Runtime, org: str) -> World:
    """Three attractions' day pools of different capacities. Most buyers take a combo pass (1–2 of each pool),
    the others single tickets of the two bigger attractions, so the pools run short in different orders."""
    w = await make_world(rt, org, {"garden": 40, "museum": 70, "tower": 100})
    g, m, t = (w.pools[n] for n in ("garden", "museum", "tower"))
    rnd = random.Random(21)
    for _ in range(BUYERS):
        q, kind = rnd.randint(1, 2), rnd.random()
        if kind < 0.6:
            w.asks.append(Ask((Take(g, q), Take(m, q), Take(t, q))))
        else:
            w.asks.append(Ask((Take(m if kind < 0.8 else t, rnd.randint(1, 3)),)))
    return w


async def stays(rt: Runtime, org: str) -> World:
    """A room type over 7 nights, one pool per night (12 rooms a night); stays of 1–4 nights, 1–2 rooms."""
    w = await make_world(rt, org, {f"night{n}": 12 for n in range(7)})
    rnd = random.Random(22)
    for _ in range(BUYERS):
        first = rnd.randrange(7)
        last = min(7, first + rnd.randint(1, 4))
        q = rnd.randint(1, 2)
        w.asks.append(Ask(tuple(Take(w.pools[f"night{n}"], q) for n in range(first, last))))
    return w


async def rooms(rt: Runtime, org: str) -> World:
    """10 rooms, each a unit with one leg per night of a week; the room type's night pools sell 8 a night (two
    rooms kept for another channel). A stay takes one unit of each night's pool and its nights' mask of one
    room: refused when the room is taken on any of those nights or a night is full."""
    w = await make_world(rt, org, {f"night{n}": 8 for n in range(7)}, units=10, legs=7)
    rnd = random.Random(23)
    for _ in range(BUYERS):
        first = rnd.randrange(7)
        last = min(7, first + rnd.randint(1, 4))
        takes = tuple(Take(w.pools[f"night{n}"], 1) for n in range(first, last))
        w.asks.append(Ask(takes, (Claim(rnd.choice(w.units), span_mask(first, last)),)))
    return w


async def cabin(rt: Runtime, org: str) -> World:
    """An economy cabin of 80 seats with nested booking classes Y ⊇ B ⊇ M: B may sell at most 50, M at most 25,
    and a class's limit counts its own bookings and those of the classes below it. So a booking of class M
    takes from M's pool, B's pool and the cabin's; B from B's and the cabin's; Y (whose limit is the cabin)
    from the cabin's alone."""
    w = await make_world(rt, org, {"economy": 80, "B": 50, "M": 25})
    levels = {"Y": ["economy"], "B": ["B", "economy"], "M": ["M", "B", "economy"]}
    rnd = random.Random(24)
    for _ in range(BUYERS):
        q = rnd.randint(1, 3)
        w.asks.append(Ask(tuple(Take(w.pools[p], q) for p in levels[rnd.choice("YBMMM")])))
    return w


async def test_a_combo_over_three_attractions_takes_all_three_pools_or_none(runtime, tenant):
    world = await combo(runtime, tenant.organizer_id)
    outcomes, books = await race(runtime, tenant.organizer_id, world)
    check_race(world, outcomes, books)
    assert books.pools[world.pools["garden"]].held > 30  # the scarcest attraction was sold (nearly) out


async def test_a_multi_night_stay_takes_every_nights_pool_or_none(runtime, tenant):
    world = await stays(runtime, tenant.organizer_id)
    outcomes, books = await race(runtime, tenant.organizer_id, world)
    check_race(world, outcomes, books)
    assert sum(p.held == 12 for p in books.pools.values()) >= 3  # nights did sell out


async def test_a_stay_in_a_room_is_a_mask_of_nights_and_no_night_is_sold_twice(runtime, tenant):
    world = await rooms(runtime, tenant.organizer_id)
    outcomes, books = await race(runtime, tenant.organizer_id, world)
    check_race(world, outcomes, books)
    # Each night's pool counts exactly the rooms occupied that night.
    for n in range(7):
        in_use = sum(1 for u in world.units if books.occupied[u] >> n & 1)
        assert books.pools[world.pools[f"night{n}"]].held == in_use <= 8, n
    codes = Counter(type(o).__name__ for o in outcomes)
    assert codes["SeatTaken"] and codes["SoldOut"], codes  # both refusals happened: a room taken, a night full


async def test_a_booking_class_takes_its_nested_levels_and_its_cabin_never_past_any(runtime, tenant):
    world = await cabin(runtime, tenant.organizer_id)
    outcomes, books = await race(runtime, tenant.organizer_id, world)
    check_race(world, outcomes, books)
    held = {name: books.pools[pid].held for name, pid in world.pools.items()}
    assert held["M"] <= held["B"] <= held["economy"] and held["M"] <= 25 and held["B"] <= 50
    assert held["M"] > 20 and held["economy"] > 70  # M's level and the cabin did run out


@pytest.mark.parametrize("shape", [combo, stays, rooms, cabin], ids=lambda f: f.__name__)
async def test_control_naive_reserve_breaks_every_shape(runtime, tenant, shape):
    world = await shape(runtime, tenant.organizer_id)
    async with naive_reserve(runtime):
        outcomes, books = await race(runtime, tenant.organizer_id, world)
    assert all(isinstance(o, inventory.HoldInfo | SoldOut) for o in outcomes), [repr(o) for o in outcomes[:3]]
    assert broken(world, books), "the naive strategy should oversell or miscount; the race test is blind"


# --- closing holds racing refunds -----------------------------------------------------------------------------

Release = Callable[[Runtime, str, bool], Awaitable[bool]]


async def release(rt: Runtime, hold_id: str, expired: bool) -> bool:
    return await in_uow(rt, lambda uow: inventory.release(uow, hold_id, expired=expired))


async def naive_release(rt: Runtime, hold_id: str, expired: bool) -> bool:
    """The bug: the hold's status is read in a transaction of its own, then the hold is closed unconditionally
    and its units given back."""
    async with rt.db.read_sessions() as reader:
        status = (await reader.execute(select(Hold.status).where(Hold.id == hold_id))).scalar_one()
    if status != "active":
        return False
    await asyncio.sleep(0.001)

    async def work(uow):  # noqa: ANN001, ANN202
        s = uow.session
        target = "expired" if expired else "released"
        await s.execute(update(Hold).where(Hold.id == hold_id).values(status=target, closed_at=uow.now()))
        await inventory_repo.shift_units(s, await inventory_repo.hold_items(s, hold_id), held=-1, sold=0)
        await inventory_repo.vacate(s, await inventory_repo.hold_units(s, hold_id))
        return True

    return await in_uow(rt, work)


async def confirm(rt: Runtime, hold_id: str) -> bool:
    """A payment: True when it converted the hold (or found it converted), False when the hold was gone."""
    try:
        await in_uow(rt, lambda uow: inventory.confirm(uow, hold_id))
    except HoldExpired:
        return False
    return True


async def refund(rt: Runtime, org: str, hold_id: str, pools: Sequence[str]) -> int:
    """A refunder of a combo with a seat: each claim it returned gives one unit of every pool back."""

    async def work(uow):  # noqa: ANN001, ANN202
        returned = await inventory.return_claims(uow, hold_id)
        if returned:
            await inventory.return_sold(uow, org, [Take(p, len(returned)) for p in pools])
        return len(returned)

    return await in_uow(rt, work)


async def close_race(rt: Runtime, org: str, clock, do_release: Release):  # noqa: ANN001, ANN201
    """40 seats of a timed entry (a day pool and a slot pool): each hold takes one unit of both and claims one
    seat. 20 holds are pending and past their expiry, 20 sold. Then, all at once: per pending hold a payment,
    a cancellation and an expiry sweeper's release; per sold hold two refunders, a late cancellation and a
    repeated payment; and 40 buyers who want seats."""
    world = await make_world(rt, org, {"day": 200, "slot": 120}, units=40)
    pools = list(world.pools.values())
    holds = [await buyer(rt, org, Ask(tuple(Take(p, 1) for p in pools), (Claim(u, 1),))) for u in world.units]
    pending, sold = holds[:20], holds[20:]
    for h in sold:
        await in_uow(rt, lambda uow, h=h: inventory.confirm(uow, h.id))
    # A bare hold on both pools that stays active: a counter given back twice shows as a wrong ``held``, not as
    # the database's ``held >= 0`` check refusing the second give-back.
    await buyer(rt, org, Ask(tuple(Take(p, 30) for p in pools)))
    clock.advance(timedelta(minutes=16))
    await warm(rt, 16)
    n = len(pending)
    tasks = [confirm(rt, h.id) for h in pending]
    tasks += [do_release(rt, h.id, False) for h in pending] + [do_release(rt, h.id, True) for h in pending]
    tasks += [refund(rt, org, h.id, pools) for _ in range(2) for h in sold]
    tasks += [do_release(rt, h.id, False) for h in sold] + [confirm(rt, h.id) for h in sold]
    rnd = random.Random(8)
    tasks += [
        buyer(rt, org, Ask(tuple(Take(p, 1) for p in pools), (Claim(rnd.choice(world.units), 1),))) for _ in range(40)
    ]
    order = list(range(len(tasks)))
    rnd.shuffle(order)
    shuffled = await settle(tasks[i] for i in order)
    outcomes: list = [None] * len(tasks)
    for pos, i in enumerate(order):
        outcomes[i] = shuffled[pos]
    parts = {
        "paid": outcomes[:n],
        "cancelled": outcomes[n : 2 * n],
        "expired": outcomes[2 * n : 3 * n],
        "refunds": outcomes[3 * n : 5 * n],
        "late_cancel": outcomes[5 * n : 6 * n],
        "paid_again": outcomes[6 * n : 7 * n],
        "bought": outcomes[7 * n :],
    }
    return world, parts, await engine_books(rt, pools, world.units)


async def test_payments_cancellations_expiries_and_refunds_move_counters_and_legs_exactly_once(runtime, tenant, clock):
    world, parts, books = await close_race(runtime, tenant.organizer_id, clock, release)
    errors = [o for p in parts.values() for o in p if isinstance(o, BaseException) and not isinstance(o, SeatTaken)]
    assert not errors, errors[:3]
    # Each pending hold was closed once: paid, or cancelled, or expired.
    closed = [sum(map(bool, c)) for c in zip(parts["paid"], parts["cancelled"], parts["expired"], strict=True)]
    assert closed == [1] * len(closed), closed
    # Each sold hold was refunded by one of its two refunders; it is neither cancelled nor paid twice.
    n = len(parts["late_cancel"])
    assert [parts["refunds"][i] + parts["refunds"][n + i] for i in range(n)] == [1] * n
    assert not any(parts["late_cancel"]) and all(parts["paid_again"])
    assert books.units_sound, (books.double_owned[:3], books.occupied_wrong[:3])
    returned = sum(books.returned.values())
    assert returned == n
    for pid, book in books.pools.items():
        assert book.held == book.held_rows and book.sold == book.converted_rows - returned, (pid, book)
        assert book.within_capacity
    paid = sum(parts["paid"])
    assert all(b.sold == paid for b in books.pools.values())  # the 20 sold were all refunded


async def test_control_a_close_without_its_conditional_update_moves_units_twice(runtime, tenant, clock):
    _, parts, books = await close_race(runtime, tenant.organizer_id, clock, naive_release)
    closed = [sum(o is True for o in c) for c in zip(parts["paid"], parts["cancelled"], parts["expired"], strict=True)]
    returned = sum(books.returned.values())
    miscounted = any(b.held != b.held_rows or b.sold != b.converted_rows - returned for b in books.pools.values())
    assert max(closed) > 1 or miscounted, "the naive close should close a hold twice; the race test is blind"
