"""A worker's view of a seated session read by changes (PostgreSQL: the units written since its last read, applied to
that read) stays equal to a read of every seat, through orders, blocks, releases and a block whose transaction was
still open at the read before; every ``FULL_READ_SECONDS`` it reads every seat all the same, and while the house is
mostly free it reads the seats in use (which costs less than walking the pool). SQLite reads every seat's state.
Control (run by hand): a horizon from the snapshot's ``xmax`` instead of its ``xmin`` in ``db.statements`` fails the
first test on the block left open (tests/integration/test_changed_since.py has that control as a test)."""

from __future__ import annotations

import pytest

from piaowu.seating import live as live_mod
from piaowu.seating import session_seating
from piaowu.seating.live import LiveSeats
from tests.order_helpers import BUYER
from tests.seating_world import SeatingWorld, seating_world


async def view_and_truth(runtime, registry: LiveSeats, world: SeatingWorld):  # noqa: ANN001, ANN201
    """``registry``'s view read now, and a fresh view's (its first read: every unit's masks)."""
    out = []
    for reg in (registry, LiveSeats()):
        async with runtime.uow(readonly=True) as uow:
            live = await reg.seats(uow, world.organizer_id, world.session_id)
            out.append(await reg.refresh(uow, world.organizer_id, live))
    return out


@pytest.fixture
def reads_of_changes(monkeypatch):  # noqa: ANN001, ANN201
    """The horizons the view's reads of changes were given."""
    horizons: list[str] = []
    real = live_mod.inventory.pool_unit_mask_columns

    async def spy(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        if kw.get("changed_since") is not None:
            horizons.append(kw["changed_since"])
        return await real(*args, **kw)

    monkeypatch.setattr(live_mod.inventory, "pool_unit_mask_columns", spy)
    return horizons


async def change_and_compare(runtime, client, world: SeatingWorld, registry: LiveSeats) -> int:  # noqa: ANN001
    """Orders, blocks and releases, the view compared with a full read after each. → the comparisons made."""
    compared = 0

    async def same() -> None:
        nonlocal compared
        view, truth = await view_and_truth(runtime, registry, world)
        assert (view.packed, view.zones) == (truth.packed, truth.zones)
        compared += 1

    async def order(k: int) -> None:
        selection = {"ticket_type_id": world.adult_id, "seats": world.seat_ids[2 * k : 2 * k + 2]}
        r = await client.post(
            f"/api/v1/shop/{world.tenant.slug}/orders",
            json={"items": [{"product": "seat", "selection": selection}], "buyer": BUYER},
        )
        assert r.status_code == 201, r.text

    await same()
    await same()
    for k in range(2):
        await order(k)
        await same()
    async with runtime.uow() as uow:
        await session_seating.block_seats(uow, world.actor, world.session_id, [world.seat_ids[10]], "press")
        await uow.commit()
    await same()
    if runtime.db.read_engine.dialect.name == "postgresql":
        # A block whose transaction is open while an order begun after it commits and the view reads, committed
        # after that read: the next read must show it (its transaction id is below the ids the read saw finished).
        async with runtime.uow() as uow:
            await session_seating.block_seats(uow, world.actor, world.session_id, [world.seat_ids[11]], "house")
            await uow.session.flush()
            await order(3)
            await same()
            await uow.commit()
        await same()
    async with runtime.uow() as uow:
        await session_seating.release_seats(uow, world.actor, world.session_id, [world.seat_ids[10]])
        await uow.commit()
    await same()
    return compared


async def test_a_view_read_by_changes_equals_a_full_read(runtime, client, reads_of_changes, monkeypatch):
    monkeypatch.setattr(live_mod, "CHANGES_ABOVE", -1.0)  # read by changes however few seats are taken, even none
    world = await seating_world(runtime)
    compared = await change_and_compare(runtime, client, world, LiveSeats())
    if runtime.db.read_engine.dialect.name == "postgresql":
        # The first read (every unit's masks) gives the horizon; every later read is of changes.
        assert len(reads_of_changes) == compared - 1 >= 7
    else:
        assert reads_of_changes == []


async def test_every_full_read_seconds_the_view_reads_every_seat(runtime, client, reads_of_changes, monkeypatch):
    monkeypatch.setattr(live_mod, "CHANGES_ABOVE", -1.0)
    monkeypatch.setattr(live_mod, "FULL_READ_SECONDS", 0.0)
    world = await seating_world(runtime)
    assert await change_and_compare(runtime, client, world, LiveSeats()) >= 6
    assert reads_of_changes == []


async def test_a_house_mostly_free_is_read_by_its_seats_in_use(runtime, client, reads_of_changes, monkeypatch):
    monkeypatch.setattr(live_mod, "CHANGES_ABOVE", 0.5)  # the walk takes or blocks at most 8 of the 60 seats
    world = await seating_world(runtime)
    assert await change_and_compare(runtime, client, world, LiveSeats()) >= 6
    assert reads_of_changes == []
