"""Seat layouts and a session's seats, through the services, on SQLite and PostgreSQL: a layout saved whole (or
refused whole), assigned to a session as one inventory unit per seat in the session's pool, blocked seats kept
back by the engine, zone prices per ticket type, the summary per zone, and the lock once seats are held."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from piaowu.audit.models import AuditEvent
from piaowu.core.errors import LegsOccupied, NotFound, SeatingLocked, SeatTaken, ValidationFailed
from piaowu.inventory import service as inventory
from piaowu.inventory.models import Unit
from piaowu.inventory.rules import Claim, Take, beyond_legs
from piaowu.seating import layout_service, session_seating
from piaowu.seating.layout import SeatMap
from piaowu.seating.models import LayoutSeat, SessionSeat
from tests.seating_world import PRICES, seating_world, two_zone_map


async def _units(rt, org: str, ids: list[str]) -> dict[str, Unit]:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        rows = (await uow.session.execute(select(Unit).where(Unit.organizer_id == org, Unit.id.in_(ids)))).scalars()
        return {u.id: u for u in rows}


async def _hold(rt, world, seat_ids: list[str]):  # noqa: ANN001, ANN202
    async with rt.uow() as uow:
        hold = await inventory.reserve(
            uow,
            world.organizer_id,
            [Take(world.pool_id, len(seat_ids))],
            claims=[Claim(s, 1) for s in seat_ids],
            expires_at=uow.now() + timedelta(minutes=15),
        )
        await uow.commit()
    return hold


async def test_a_seating_world_sells_one_unit_per_seat_in_the_session_pool(runtime, tenant):
    world = await seating_world(runtime, tenant, blocked=[("B", "3", "10")])
    assert len(world.seat_ids) == 60 and len(set(world.seat_ids)) == 60
    units = await _units(runtime, world.organizer_id, world.seat_ids)
    assert {u.pool_id for u in units.values()} == {world.pool_id}
    assert {u.legs for u in units.values()} == {1}
    blocked = world.seat("B", "3", "10")
    assert units[blocked].blocked == beyond_legs(1) | 1
    assert all(u.blocked == beyond_legs(1) for k, u in units.items() if k != blocked)
    async with runtime.uow(readonly=True) as uow:
        counts = await inventory.counts(uow, world.organizer_id, [world.pool_id])
        seats = await session_seating.session_seats(uow, world.organizer_id, world.session_id)
        prices = await session_seating.zone_prices(uow, world.organizer_id, world.session_id)
        summary = await session_seating.seating_summary(uow, world.actor, world.session_id)
    assert counts[world.pool_id].capacity == 60
    assert [s.ordinal for s in seats] == list(range(60))
    assert (seats[0].section, seats[0].row, seats[0].number, seats[0].zone) == ("A", "1", "1", "A")
    assert seats[-1].blocked_reason == "house"
    assert {(p.zone, p.ticket_type_id, p.price_minor) for p in prices} == {
        ("A", world.adult_id, PRICES["A"][0]),
        ("A", world.student_id, PRICES["A"][1]),
        ("B", world.adult_id, PRICES["B"][0]),
        ("B", world.student_id, PRICES["B"][1]),
    }
    assert [(z.zone, z.total, z.free, z.held, z.sold, z.blocked) for z in summary.zones] == [
        ("A", 30, 30, 0, 0, 0),
        ("B", 30, 29, 0, 0, 1),
    ]
    # The kept-back seat cannot be claimed; the others can.
    with pytest.raises(SeatTaken):
        await _hold(runtime, world, [blocked])
    await _hold(runtime, world, [world.seat("A", "1", "1")])


async def test_summary_tells_held_from_sold_and_a_session_with_held_seats_keeps_its_layout(runtime, tenant):
    world = await seating_world(runtime, tenant)
    held = await _hold(runtime, world, world.zone_seats("A")[:2])
    sold = await _hold(runtime, world, world.zone_seats("B")[:3])
    async with runtime.uow() as uow:
        await inventory.confirm(uow, sold.id)
        await uow.commit()
    async with runtime.uow(readonly=True) as uow:
        summary = await session_seating.seating_summary(uow, world.actor, world.session_id)
    assert [(z.zone, z.free, z.held, z.sold) for z in summary.zones] == [("A", 28, 2, 0), ("B", 27, 0, 3)]
    assert summary.totals() == {"total": 60, "free": 55, "held": 2, "sold": 3, "blocked": 0}

    other = two_zone_map(rows_a=1, rows_b=1)
    async with runtime.uow() as uow:
        layout = await layout_service.save_layout(uow, world.actor, world.venue_id, "Small", other)
        await uow.commit()
    with pytest.raises(SeatingLocked):
        async with runtime.uow() as uow:
            await session_seating.assign_layout(uow, world.actor, world.session_id, layout.id)
    # Released and expired holds leave nothing held: the layout can change again, and the seats named by the
    # released hold are retired (kept for its history, never claimable), the others deleted.
    async with runtime.uow() as uow:
        await inventory.release(uow, held.id)
        await uow.commit()
    with pytest.raises(SeatingLocked):  # the sold seats still lock it
        async with runtime.uow() as uow:
            await session_seating.assign_layout(uow, world.actor, world.session_id, layout.id)


async def test_reassigning_a_layout_replaces_the_seats_and_retires_units_named_by_old_holds(runtime, tenant):
    world = await seating_world(runtime, tenant)
    first = world.seat("A", "1", "1")
    hold = await _hold(runtime, world, [first])
    async with runtime.uow() as uow:
        await inventory.release(uow, hold.id)
        layout = await layout_service.save_layout(
            uow, world.actor, world.venue_id, "Small", two_zone_map(rows_a=1, rows_b=1)
        )
        await session_seating.assign_layout(uow, world.actor, world.session_id, layout.id)
        await uow.commit()
    async with runtime.uow(readonly=True) as uow:
        seats = await session_seating.session_seats(uow, world.organizer_id, world.session_id)
        counts = await inventory.counts(uow, world.organizer_id, [world.pool_id])
        prices = await session_seating.zone_prices(uow, world.organizer_id, world.session_id)
        left = (
            await uow.session.execute(select(func.count()).select_from(Unit).where(Unit.id.in_(world.seat_ids)))
        ).scalar()
    assert len(seats) == 20 and counts[world.pool_id].capacity == 20
    assert not set(world.seat_ids) & {s.unit_id for s in seats}
    assert len(prices) == 4  # both zones still exist: their prices stay
    assert left == 1  # only the unit a hold named is kept, out of the pool and blocked
    units = await _units(runtime, world.organizer_id, [first])
    assert units[first].pool_id is None and units[first].blocked & 1


async def test_a_layout_of_another_venue_or_organizer_is_not_found(runtime, tenant, other_tenant):
    world = await seating_world(runtime, tenant)
    stranger = await seating_world(runtime, other_tenant)
    async with runtime.uow() as uow:
        from piaowu.catalog import venue_service
        from piaowu.catalog.venue_schemas import VenueIn

        venue = await venue_service.create_venue(uow, world.actor, VenueIn(name="Other hall"))
        elsewhere = await layout_service.save_layout(uow, world.actor, venue.id, "Elsewhere", two_zone_map())
        await uow.commit()
    for layout_id in (elsewhere.id, stranger.layout_id, "nope"):
        with pytest.raises(NotFound):
            async with runtime.uow() as uow:
                await session_seating.assign_layout(uow, world.actor, world.session_id, layout_id)
    with pytest.raises(NotFound):
        async with runtime.uow(readonly=True) as uow:
            await layout_service.load_map(uow, world.organizer_id, stranger.layout_id)
    with pytest.raises(NotFound):
        async with runtime.uow() as uow:
            await session_seating.assign_layout(uow, world.actor, stranger.session_id, world.layout_id)


async def test_a_layout_is_saved_whole_or_refused_whole(runtime, tenant):
    world = await seating_world(runtime, tenant)
    good = two_zone_map(rows_a=1, rows_b=1)
    twice = SeatMap(good.sections, (*good.seats, dataclasses.replace(good.seats[0], x=999.0)))
    on_top = SeatMap(good.sections, (*good.seats, dataclasses.replace(good.seats[0], number="99")))
    for bad, code in ((twice, "duplicate_label"), (on_top, "overlapping_coordinates")):
        with pytest.raises(ValidationFailed) as refused:
            async with runtime.uow() as uow:
                await layout_service.save_layout(uow, world.actor, world.venue_id, "X", bad, world.layout_id)
        assert code in {e["code"] for e in refused.value.errors}
    async with runtime.uow(readonly=True) as uow:
        kept = await layout_service.load_map(uow, world.organizer_id, world.layout_id)
        layout = await layout_service.get_layout(uow, world.actor, world.layout_id)
    assert len(kept.seats) == 60 and layout.version == 1
    async with runtime.uow() as uow:
        replaced = await layout_service.save_layout(uow, world.actor, world.venue_id, "Small", good, world.layout_id)
        await uow.commit()
    assert replaced.version == 2 and replaced.seat_count == 20 and replaced.zones == ["A", "B"]
    async with runtime.uow(readonly=True) as uow:
        assert (await layout_service.load_map(uow, world.organizer_id, world.layout_id)) == good
        listed = await layout_service.list_layouts(uow, world.actor, world.venue_id)
        n = (await uow.session.execute(select(func.count()).select_from(LayoutSeat))).scalar()
        actions = list(
            (
                await uow.session.execute(select(AuditEvent.action).where(AuditEvent.subject_id == world.layout_id))
            ).scalars()
        )
        # The session keeps its own copy: replacing the layout moved none of its seats.
        session_seats = (await uow.session.execute(select(func.count()).select_from(SessionSeat))).scalar()
    assert [x.id for x in listed] == [world.layout_id] and n == 20 and session_seats == 60
    assert sorted(actions) == ["seat_layout.created", "seat_layout.replaced"]


async def test_zone_prices_are_checked_whole(runtime, tenant):
    world = await seating_world(runtime, tenant)
    other = await seating_world(runtime, tenant)
    bad = [
        ("C", world.adult_id, 100),
        ("A", other.adult_id, 100),
        ("A", world.student_id, -1),
        ("B", world.adult_id, 100),
        ("B", world.adult_id, 200),
    ]
    with pytest.raises(ValidationFailed) as refused:
        async with runtime.uow() as uow:
            await session_seating.set_zone_prices(uow, world.actor, world.session_id, bad)
    assert [(e["field"], e["code"]) for e in refused.value.errors] == [
        ("prices.0.zone", "unknown_zone"),
        ("prices.1.ticket_type_id", "unknown_ticket_type"),
        ("prices.2.price_minor", "out_of_range"),
        ("prices.4.zone", "duplicate_price"),
    ]
    async with runtime.uow() as uow:
        await session_seating.set_zone_prices(uow, world.actor, world.session_id, [("A", world.adult_id, 100)])
        await uow.commit()
    async with runtime.uow(readonly=True) as uow:
        prices = await session_seating.zone_prices(uow, world.organizer_id, world.session_id)
    assert [(p.zone, p.ticket_type_id, p.price_minor) for p in prices] == [("A", world.adult_id, 100)]


async def test_blocking_and_releasing_seats(runtime, tenant):
    world = await seating_world(runtime, tenant)
    other = await seating_world(runtime, tenant)
    a1, a2, a3 = (world.seat("A", "1", n) for n in ("1", "2", "3"))
    await _hold(runtime, world, [a3])
    with pytest.raises(LegsOccupied):
        async with runtime.uow() as uow:
            await session_seating.block_seats(uow, world.actor, world.session_id, [a1, a3], "press")
    for ids, code in (([a1, other.seat_ids[0]], "unknown_seat"), ([a1, a1], "seat_twice"), ([], "required")):
        with pytest.raises(ValidationFailed) as refused:
            async with runtime.uow() as uow:
                await session_seating.block_seats(uow, world.actor, world.session_id, ids, "press")
        assert code in {e["code"] for e in refused.value.errors}
    with pytest.raises(ValidationFailed):
        async with runtime.uow() as uow:
            await session_seating.block_seats(uow, world.actor, world.session_id, [a1], "=cmd")
    async with runtime.uow() as uow:
        seats = await session_seating.block_seats(uow, world.actor, world.session_id, [a1, a2], "press")
        await uow.commit()
    assert [s.blocked_reason for s in seats] == ["press", "press"]
    with pytest.raises(SeatTaken):
        await _hold(runtime, world, [a2])
    async with runtime.uow() as uow:
        await session_seating.release_seats(uow, world.actor, world.session_id, [a2], "not needed")
        await uow.commit()
    await _hold(runtime, world, [a2])
    async with runtime.uow(readonly=True) as uow:
        summary = await session_seating.seating_summary(uow, world.actor, world.session_id)
        actions = list(
            (
                await uow.session.execute(
                    select(AuditEvent.action).where(AuditEvent.subject_id == world.session_id).order_by(AuditEvent.at)
                )
            ).scalars()
        )
    assert (summary.zones[0].held, summary.zones[0].blocked) == (2, 1)
    assert "session.seats_blocked" in actions and "session.seats_released" in actions


@pytest.mark.postgres
async def test_a_big_map_assigned_comes_with_the_tables_statistics(pg_url, tmp_path, clock):  # noqa: ANN001
    """A seat map of many seats assigned to a session: PostgreSQL's statistics of the units and session seats are
    taken in the same transaction (``db.statements.analyze_after_bulk``), so a worker's first reads of the seats
    plan by them — in a database never analyzed (a fresh one here; on a server, until autovacuum's next analyze)
    the read of the seats withheld from a channel made a primary-key lookup per seat of the stadium (0.5–0.8 s)
    and the read of the seats in use walked every unit. Control: without it, no statistics at all here."""
    from piaowu.runtime import build_runtime
    from tests.conftest import make_settings
    from tests.seating_world import grid_map

    rt = build_runtime(make_settings(tmp_path, pg_url), clock=clock)
    try:
        await seating_world(rt, seat_map=grid_map(columns=1, lines=2, rows=20, seats_per_row=30))  # 1,200 seats
        async with rt.uow(readonly=True) as uow:
            analyzed = (
                await uow.session.execute(
                    select(func.count(func.distinct(text("tablename"))))
                    .select_from(text("pg_stats"))
                    .where(text("tablename IN ('inventory_units', 'session_seats')"))
                )
            ).scalar()
        assert analyzed == 2
    finally:
        await rt.db.dispose()
