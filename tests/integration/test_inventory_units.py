"""Units with identity (seats, rooms, berths) in the inventory engine, on SQLite and PostgreSQL: a claim takes
a unit's legs only where all are free, atomically with the counter takes; release, expiry and return give the
legs back exactly once; confirm keeps them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from piaowu.core.errors import SeatTaken, SoldOut, ValidationFailed
from piaowu.inventory import service as inventory
from piaowu.inventory.rules import Claim, Take, span_mask
from tests.concurrency.ledger import in_uow
from tests.statements import statements


async def world(runtime, organizer_id: str, *, seats: int = 3, legs: int = 1, capacity: int = 10):  # noqa: ANN001, ANN201
    async def make(uow):  # noqa: ANN001, ANN202
        pool = await inventory.create_pool(uow, organizer_id, kind="session", capacity=capacity)
        units = await inventory.create_units(
            uow, organizer_id, [f"A{i}" for i in range(seats)], legs=legs, pool_id=pool
        )
        return pool, units

    return await in_uow(runtime, make)


async def reserve(runtime, org: str, takes=(), claims=()):  # noqa: ANN001, ANN201
    return await in_uow(
        runtime,
        lambda uow: inventory.reserve(
            uow, org, list(takes), claims=list(claims), expires_at=uow.now() + timedelta(minutes=15)
        ),
    )


async def state(runtime, org: str, pool: str, units: list[str]):  # noqa: ANN001, ANN201
    async with runtime.uow(readonly=True) as uow:
        held = (await inventory.counts(uow, org, [pool]))[pool]
        occ = await inventory.unit_states(uow, org, units)
    return held, [occ[u].occupied for u in units]


async def test_a_taken_seat_refuses_the_whole_reservation_and_says_which(runtime, tenant):
    org = tenant.organizer_id
    pool, (a, b, c) = await world(runtime, org)
    first = await reserve(runtime, org, [Take(pool, 1)], [Claim(a, 1)])
    assert first.claims == (Claim(a, 1),)
    with pytest.raises(SeatTaken) as refused:
        await reserve(runtime, org, [Take(pool, 2)], [Claim(b, 1), Claim(a, 1)])
    assert isinstance(refused.value, SoldOut) and refused.value.code == "seat_taken"
    assert refused.value.data["unit_ids"] == [a] and refused.value.data["pool_ids"] == []
    # Nothing of the refused reservation remains: b is free, the pool holds only the first buyer's unit.
    counts, occupied = await state(runtime, org, pool, [a, b, c])
    assert counts.held == 1 and occupied == [1, 0, 0]
    await reserve(runtime, org, [Take(pool, 2)], [Claim(b, 1), Claim(c, 1)])
    assert (await state(runtime, org, pool, [a, b, c]))[1] == [1, 1, 1]


async def test_a_refusal_names_the_short_pools_and_the_taken_units_together(runtime, tenant):
    org = tenant.organizer_id
    pool, (a, b, _) = await world(runtime, org, capacity=1)
    await reserve(runtime, org, [Take(pool, 1)], [Claim(a, 1)])
    with pytest.raises(SeatTaken) as refused:
        await reserve(runtime, org, [Take(pool, 1)], [Claim(a, 1), Claim(b, 1)])
    assert refused.value.data == {"pool_ids": [pool], "unit_ids": [a]}
    with pytest.raises(SoldOut) as short:  # counters only: the general-admission refusal, as before
        await reserve(runtime, org, [Take(pool, 1)])
    assert type(short.value) is SoldOut and short.value.data["pool_id"] == pool
    assert short.value.data["pool_ids"] == [pool] and short.value.data["unit_ids"] == []
    assert (await state(runtime, org, pool, [a, b]))[1] == [1, 0]


async def test_a_route_seat_is_sold_per_leg(runtime, tenant):
    org = tenant.organizer_id
    pool, (seat,) = await world(runtime, org, seats=1, legs=9, capacity=100)  # 10 stops, 9 legs
    await reserve(runtime, org, [Take(pool, 1)], [Claim(seat, span_mask(0, 3))])
    await reserve(runtime, org, [Take(pool, 1)], [Claim(seat, span_mask(3, 5))])  # A→B then B→C: allowed
    with pytest.raises(SeatTaken):
        await reserve(runtime, org, [Take(pool, 1)], [Claim(seat, span_mask(2, 4))])
    with pytest.raises(SeatTaken):  # leg 9 does not exist on a 9-leg unit: blocked
        await reserve(runtime, org, [Take(pool, 1)], [Claim(seat, span_mask(8, 10))])
    await reserve(runtime, org, [], [Claim(seat, span_mask(5, 9))])  # claims alone, no counter
    counts, (occupied,) = await state(runtime, org, pool, [seat])
    assert occupied == span_mask(0, 9) and counts.held == 2


async def test_another_organizers_unit_cannot_be_claimed(runtime, tenant, other_tenant):
    pool, (a, *_) = await world(runtime, other_tenant.organizer_id)
    with pytest.raises(SeatTaken):
        await reserve(runtime, tenant.organizer_id, [], [Claim(a, 1)])
    with pytest.raises(ValidationFailed):
        await reserve(runtime, tenant.organizer_id, [], [Claim(a, 1), Claim(a, 1)])


async def test_release_and_expiry_give_the_legs_back_exactly_once(runtime, tenant):
    org = tenant.organizer_id
    pool, (a, b, _) = await world(runtime, org, legs=4)
    hold = await reserve(runtime, org, [Take(pool, 2)], [Claim(a, 0b0011), Claim(b, 0b0110)])
    other = await reserve(runtime, org, [Take(pool, 1)], [Claim(a, 0b1100)])
    assert await in_uow(runtime, lambda uow: inventory.release(uow, hold.id))
    assert not await in_uow(runtime, lambda uow: inventory.release(uow, hold.id, expired=True))
    assert not await in_uow(runtime, lambda uow: inventory.release(uow, hold.id))
    counts, occupied = await state(runtime, org, pool, [a, b])
    assert counts.held == 1 and occupied == [0b1100, 0]  # the other hold's legs stay
    # A released hold's claims are not returned again, nor can it be confirmed.
    assert await in_uow(runtime, lambda uow: inventory.return_claims(uow, hold.id)) == []
    assert (await state(runtime, org, pool, [a, b]))[1] == [0b1100, 0]
    assert await in_uow(runtime, lambda uow: inventory.hold_claims(uow, other.id)) == [Claim(a, 0b1100)]


async def test_confirm_keeps_the_legs_and_a_return_clears_them_once(runtime, tenant):
    org = tenant.organizer_id
    pool, (a, b, _) = await world(runtime, org)
    hold = await reserve(runtime, org, [Take(pool, 2)], [Claim(a, 1), Claim(b, 1)])
    assert await in_uow(runtime, lambda uow: inventory.return_claims(uow, hold.id)) == []  # active: nothing
    await in_uow(runtime, lambda uow: inventory.confirm(uow, hold.id))
    assert not await in_uow(runtime, lambda uow: inventory.release(uow, hold.id))  # sold: stays sold
    counts, occupied = await state(runtime, org, pool, [a, b])
    assert (counts.held, counts.sold, occupied) == (0, 2, [1, 1])

    assert await in_uow(runtime, lambda uow: inventory.return_claims(uow, hold.id, [a])) == [a]
    assert await in_uow(runtime, lambda uow: inventory.return_claims(uow, hold.id, [a])) == []
    assert (await state(runtime, org, pool, [a, b]))[1] == [0, 1]
    # The seat is sold again; a late second return of the first sale must not free the new owner's seat.
    await reserve(runtime, org, [Take(pool, 1)], [Claim(a, 1)])
    assert await in_uow(runtime, lambda uow: inventory.return_claims(uow, hold.id)) == [b]
    assert (await state(runtime, org, pool, [a, b]))[1] == [1, 0]


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_on_postgresql_a_reservation_with_claims_is_one_autocommit_statement(runtime, tenant):
    """Counter takes, unit claims and the hold's rows: one statement on PostgreSQL, accepted or refused, and
    the refused one leaves nothing (it ran in autocommit, so nothing could be rolled back after it). SQLite runs
    the writes one by one under BEGIN IMMEDIATE, so this test is PostgreSQL's only."""
    org = tenant.organizer_id
    pool, (a, b, _) = await world(runtime, org)
    # Counted on both paths: SQLAlchemy's cursor and the driver's connection (db/driver.py).
    with statements(runtime) as sent:
        for claims in ([Claim(a, 1)], [Claim(b, 1), Claim(a, 1)]):
            async with runtime.uow(autocommit=True) as uow:
                sent.clear()
                try:
                    await inventory.reserve(uow, org, [Take(pool, len(claims))], claims=claims, expires_at=uow.now())
                except SeatTaken as refused:
                    assert refused.data["unit_ids"] == [a]
                assert len(sent) == 1 and sent[0].lstrip().upper().startswith("WITH"), sent
    counts, occupied = await state(runtime, org, pool, [a, b])
    assert counts.held == 1 and occupied == [1, 0]


async def test_a_large_reservation_names_exactly_the_seats_taken_among_many(runtime, tenant):
    """42 seats in one reservation (on SQLite one UPDATE … IN … RETURNING for all of them): the refusal names
    exactly the taken ones, whatever their place in the order, and leaves nothing."""
    org = tenant.organizer_id
    pool, units = await world(runtime, org, seats=42, capacity=100)
    taken = [units[0], units[17], units[41]]
    for u in taken:
        await reserve(runtime, org, [Take(pool, 1)], [Claim(u, 1)])
    asked = units[:41] + [units[41]]
    with pytest.raises(SeatTaken) as refused:
        await reserve(runtime, org, [Take(pool, len(asked))], [Claim(u, 1) for u in reversed(asked)])
    assert sorted(refused.value.data["unit_ids"]) == sorted(taken)
    counts, occupied = await state(runtime, org, pool, units)
    assert counts.held == 3 and sum(occupied) == 3
    free = [u for u in units if u not in taken]
    await reserve(runtime, org, [Take(pool, len(free))], [Claim(u, 1) for u in free])
    counts, occupied = await state(runtime, org, pool, units)
    assert counts.held == 42 and occupied == [1] * 42


async def in_use_read(runtime, org: str, pool: str, *, scan_allowed: bool = True):  # noqa: ANN001, ANN201
    """``pool_unit_masks(in_use=1)`` as a worker's live states call it, and the plan of the statement it sent: on
    PostgreSQL the generic plan (a worker's prepared read settles on it; its parameters unknown to the planner)."""
    from sqlalchemy import event, text

    sent: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, *args):  # noqa: ANN001, ANN002, ANN202
        if "inventory_units" in statement:
            sent.append((statement, parameters))

    engine = runtime.db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        async with runtime.uow(readonly=True) as uow:
            masks = await inventory.pool_unit_masks(uow, org, pool, in_use=1)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    ((statement, parameters),) = sent
    async with runtime.db.read_engine.connect() as conn:
        if runtime.db.read_engine.dialect.name == "postgresql":
            if not scan_allowed:
                await conn.execute(text("SET LOCAL enable_seqscan = off"))
            await conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
            await conn.exec_driver_sql(f"PREPARE in_use_read AS {statement}")
            values = ", ".join(f"'{p}'" if isinstance(p, str) else str(p) for p in parameters)
            rows = await conn.exec_driver_sql(f"EXPLAIN EXECUTE in_use_read({values})")
        else:
            rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        plan = " ".join(str(r) for r in rows)
    return masks, plan


def only_in_use(plan: str) -> bool:
    """The plan reads the pool's units in use through their own index, and walks no other unit of the table."""
    others = ("ix_inventory_units_pool_id", "ix_inventory_units_organizer_id", "Seq Scan", "SCAN inventory_units")
    return "ix_inventory_units_leg0_in_use" in plan and not any(o in plan for o in others)


async def test_the_units_in_use_of_a_pool_are_read_through_their_own_index(runtime, tenant):
    """A seated session's live states read the units whose seat leg is held, sold or kept back, about twice a
    second per worker: through ``ix_inventory_units_leg0_in_use`` (only those units), not by walking every unit of
    the pool (a stadium's 80,000). The read returns exactly those units, and the planner can use the partial index
    for it, which it does only when the read's condition is the index's own (constants, not parameters: the
    control, a parameter for the leg mask, plans the pool's index on PostgreSQL)."""
    org = tenant.organizer_id
    pool, units = await world(runtime, org, seats=40, capacity=100)
    await reserve(runtime, org, [Take(pool, 2)], [Claim(units[3], 1), Claim(units[17], 1)])
    await in_uow(runtime, lambda uow: inventory.block_legs(uow, org, [Claim(units[25], 1)]))
    # 40 units: a scan of the table costs less than any index; ask whether the index can serve the read.
    masks, plan = await in_use_read(runtime, org, pool, scan_allowed=False)
    assert sorted(masks) == sorted([units[3], units[17], units[25]])
    assert masks[units[3]][0] == 1 and masks[units[25]][1] & 1
    assert only_in_use(plan), plan


@pytest.mark.postgres
async def test_a_map_of_units_made_at_once_is_read_through_the_index_at_once(pg_url, tmp_path, clock):  # noqa: ANN001
    """Units made in bulk (a seat map assigned to a session) come with the table's statistics taken again: in a
    database never analyzed (a fresh one here; on a server, until autovacuum's next analyze) the plan for the
    read of the units in use walked every unit of the pool through the pool and organizer indexes (the bench's
    freshly assigned stadium: 1,800 pages a read) rather than the partial index alone. Control: without the
    ``ANALYZE`` in ``insert_units`` the plan here ANDs the partial index with the organizer's (every unit of it)."""
    from piaowu.runtime import build_runtime
    from tests.conftest import make_settings, make_tenant

    rt = build_runtime(make_settings(tmp_path, pg_url), clock=clock)
    try:
        org = (await make_tenant(rt)).organizer_id
        pool, units = await world(rt, org, seats=20_000, capacity=20_000)  # more than statements.ANALYZE_FROM
        await reserve(rt, org, [Take(pool, 2)], [Claim(units[10], 1), Claim(units[500], 1)])
        masks, plan = await in_use_read(rt, org, pool)
        assert sorted(masks) == sorted([units[10], units[500]])
        assert only_in_use(plan), plan
    finally:
        await rt.db.dispose()
