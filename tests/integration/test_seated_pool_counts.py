"""A seated session's pool is its seats (seathot), on SQLite and PostgreSQL: a seat order claims units and takes
nothing of the pool's row, and the pool's held and sold — availability, the session's numbers, the dashboard —
are its seats' live claims. Every step of a seat's life gives back exactly what it took; a seated pool's capacity
changes only with its layout; migration 0017 makes every seated session's pool seats-only."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from piaowu.catalog import session_service
from piaowu.catalog.schemas import SessionPatch
from piaowu.core.errors import ValidationFailed
from piaowu.inventory import repository as inventory_repo
from piaowu.inventory import service as inventory
from piaowu.inventory.models import Pool, Unit
from piaowu.inventory.rules import SEATS_ONLY
from piaowu.reports import queries
from piaowu.workers import sweeper
from tests.concurrency.ledger import assert_ledger
from tests.order_helpers import BUYER
from tests.seating_world import SeatingWorld, seating_world, unseated_session

m0017 = importlib.import_module("piaowu.migrations.versions.0017_seathot")


async def shop_order(client, world: SeatingWorld, seats: list[str]) -> dict:  # noqa: ANN001
    item = {"product": "seat", "selection": {"ticket_type_id": world.adult_id, "seats": seats}}
    r = await client.post("/api/v1/shop/seat-theatre/orders", json={"items": [item], "buyer": BUYER})
    assert r.status_code == 201, r.text
    return r.json()


async def numbers(rt, world: SeatingWorld) -> tuple[int, int, int, int, int]:  # noqa: ANN001
    """(held, sold, available) as the session shows them, and the pool row's own counters."""
    async with rt.uow(readonly=True) as uow:
        s = await session_service.get_session(uow, world.actor, world.session_id)
        row = (await uow.session.execute(select(Pool.held, Pool.sold).where(Pool.id == world.pool_id))).one()
        upcoming = {
            u.session_id: u for u in await queries.upcoming_sessions(uow.session, world.organizer_id, rt.clock.now())
        }
    load = upcoming[world.session_id]
    assert (load.held, load.sold, load.capacity) == (s.held, s.sold, s.capacity)  # the dashboard agrees
    assert s.available == s.capacity - s.held - s.sold
    return s.held, s.sold, s.available, row.held, row.sold


async def test_every_step_of_a_seat_gives_back_what_it_took(runtime, client, clock):
    world = await seating_world(runtime)
    capacity = len(world.seat_ids)
    a, b = world.seat("A", "1", "1"), world.seat("A", "1", "2")
    pending = await shop_order(client, world, [a, b])
    assert await numbers(runtime, world) == (2, 0, capacity - 2, 0, 0)
    await assert_ledger(runtime, [world.pool_id])

    paid_seats = [world.seat("B", "1", n) for n in ("4", "5", "6")]
    paid = await shop_order(client, world, paid_seats)
    r = await client.post(f"/api/v1/orders/{paid['id']}/pay", json={"method": "cash"}, headers=world.auth)
    assert r.status_code == 200, r.text
    paid = r.json()
    assert await numbers(runtime, world) == (2, 3, capacity - 5, 0, 0)
    await assert_ledger(runtime, [world.pool_id])

    # An exchange moves a sold ticket: one seat claimed, one given back, sold unchanged.
    ticket = paid["lines"][0]["ticket"]
    moved = world.seat("B", "2", "9")
    r = await client.post(f"/api/v1/tickets/{ticket['id']}/exchange-seat", json={"seat_id": moved}, headers=world.auth)
    assert r.status_code == 200, r.text
    assert await numbers(runtime, world) == (2, 3, capacity - 5, 0, 0)
    await assert_ledger(runtime, [world.pool_id])

    # A refund of one line gives its seat back.
    line = paid["lines"][1]
    r = await client.post(f"/api/v1/orders/{paid['id']}/refunds", json={"line_ids": [line["id"]]}, headers=world.auth)
    assert r.status_code in (200, 201), r.text
    assert await numbers(runtime, world) == (2, 2, capacity - 4, 0, 0)
    await assert_ledger(runtime, [world.pool_id])

    # Expiry gives the pending order's seats back.
    clock.advance(timedelta(minutes=runtime.settings.hold_minutes + 1))
    assert await sweeper.expire_orders(runtime) == 1
    assert await numbers(runtime, world) == (0, 2, capacity - 2, 0, 0)
    books = await assert_ledger(runtime, [world.pool_id])
    assert (books[world.pool_id].held_rows, books[world.pool_id].sold_tickets) == (0, 2)
    async with runtime.uow(readonly=True) as uow:
        occupied = set(
            (await uow.session.execute(select(Unit.id).where(Unit.pool_id == world.pool_id, Unit.occupied != 0)))
            .scalars()
            .all()
        )
    assert occupied == {moved, paid_seats[2]}, pending["id"]


async def test_the_ledger_catches_a_claim_left_on_a_freed_seat(runtime, client):
    """The control of the seat ledger: a seat whose bit is cleared while its claim stays live (a release that
    forgot the bits) must show as counters that disagree with the rows."""
    world = await seating_world(runtime)
    seat = world.seat("A", "1", "3")
    await shop_order(client, world, [seat])
    async with runtime.uow() as uow:
        await uow.session.execute(update(Unit).where(Unit.id == seat).values(occupied=0))
        await uow.commit()
    with pytest.raises(AssertionError, match="counters disagree"):
        await assert_ledger(runtime, [world.pool_id])


async def test_a_seated_sessions_capacity_is_its_seat_count(runtime):
    world = await seating_world(runtime)
    seats = len(world.seat_ids)
    async with runtime.uow() as uow:
        with pytest.raises(ValidationFailed) as refused:
            await session_service.update_session(uow, world.actor, world.session_id, SessionPatch(capacity=seats + 10))
    assert refused.value.errors[0]["code"] == "seated_capacity"
    async with runtime.uow() as uow:  # the same number is no change
        out = await session_service.update_session(uow, world.actor, world.session_id, SessionPatch(capacity=seats))
        await uow.commit()
    assert out.capacity == seats


async def test_migration_0017_makes_seated_pools_seats_only(runtime):
    world = await seating_world(runtime)
    _, _, general_pool = await unseated_session(runtime, world)
    async with runtime.uow() as uow:
        await uow.session.execute(update(Pool).where(Pool.id == world.pool_id).values(kind="session"))
        await uow.session.execute(m0017.SEATED_POOLS_ARE_SEATS_ONLY)
        await uow.commit()
    async with runtime.uow(readonly=True) as uow:
        kinds = dict((await uow.session.execute(select(Pool.id, Pool.kind))).all())
        assert await inventory_repo.seat_counts(uow.session, [world.pool_id]) == {}
        assert (await inventory.counts(uow, world.organizer_id, [world.pool_id]))[world.pool_id].held == 0
    assert kinds[world.pool_id] == SEATS_ONLY and kinds[general_pool] != SEATS_ONLY
