"""Operators keep legs of units back from sale (house seats, a broken berth, a room out of order), on SQLite and
PostgreSQL: ``block_legs`` refuses where a leg is held or sold and names those legs; a blocked leg cannot be
claimed; ``unblock_legs`` gives it back to sale but never frees a leg the unit does not have."""

from __future__ import annotations

import pytest

from piaowu.core.errors import LegsOccupied, NotFound, SeatTaken, ValidationFailed
from piaowu.inventory import service as inventory
from piaowu.inventory.rules import FULL_MASK, Claim, Take, beyond_legs, span_mask
from tests.concurrency.ledger import in_uow
from tests.integration.test_inventory_units import reserve, world


async def block(runtime, org: str, *blocks: Claim) -> None:  # noqa: ANN001
    await in_uow(runtime, lambda uow: inventory.block_legs(uow, org, list(blocks)))


async def unblock(runtime, org: str, *blocks: Claim) -> None:  # noqa: ANN001
    await in_uow(runtime, lambda uow: inventory.unblock_legs(uow, org, list(blocks)))


async def masks(runtime, org: str, units: list[str]) -> list[tuple[int, int]]:  # noqa: ANN001
    async with runtime.uow(readonly=True) as uow:
        states = await inventory.unit_states(uow, org, units)
    return [(states[u].occupied, states[u].blocked) for u in units]


async def test_a_blocked_leg_cannot_be_claimed_until_unblocked(runtime, tenant):
    org = tenant.organizer_id
    pool, (seat,) = await world(runtime, org, seats=1, legs=4, capacity=10)
    await block(runtime, org, Claim(seat, 0b0110))
    await block(runtime, org, Claim(seat, 0b0010))  # blocking a blocked leg again changes nothing
    assert await masks(runtime, org, [seat]) == [(0, beyond_legs(4) | 0b0110)]
    with pytest.raises(SeatTaken) as taken:
        await reserve(runtime, org, [Take(pool, 1)], [Claim(seat, span_mask(1, 2))])
    assert taken.value.data["unit_ids"] == [seat]
    await reserve(runtime, org, [Take(pool, 1)], [Claim(seat, 0b1001)])  # the other legs are still for sale
    await unblock(runtime, org, Claim(seat, 0b0100))
    await reserve(runtime, org, [Take(pool, 1)], [Claim(seat, 0b0100)])
    assert await masks(runtime, org, [seat]) == [(0b1101, beyond_legs(4) | 0b0010)]


async def test_blocking_an_occupied_leg_is_refused_whole_and_names_the_legs(runtime, tenant):
    org = tenant.organizer_id
    pool, (a, b, c) = await world(runtime, org, legs=4)
    await reserve(runtime, org, [Take(pool, 1)], [Claim(a, 0b0011)])
    hold = await reserve(runtime, org, [Take(pool, 1)], [Claim(b, 0b1000)])
    await in_uow(runtime, lambda uow: inventory.confirm(uow, hold.id))  # sold legs are occupied as well
    with pytest.raises(LegsOccupied) as refused:
        await block(runtime, org, Claim(c, 0b1111), Claim(a, 0b0110), Claim(b, 0b1100))
    err = refused.value
    assert err.code == "legs_occupied" and err.status == 409
    assert err.data["unit_ids"] == sorted([a, b])
    assert err.data["legs"] == {a: [1], b: [3]}
    # All or nothing: c, the free unit of the same request, was not blocked either.
    assert await masks(runtime, org, [a, b, c]) == [
        (0b0011, beyond_legs(4)),
        (0b1000, beyond_legs(4)),
        (0, beyond_legs(4)),
    ]
    # The free legs of the same units can be kept back.
    await block(runtime, org, Claim(a, 0b0100), Claim(c, 0b1111))
    assert [m[1] for m in await masks(runtime, org, [a, c])] == [beyond_legs(4) | 0b0100, FULL_MASK]


async def test_legs_the_unit_does_not_have_are_neither_blocked_nor_unblocked(runtime, tenant):
    org = tenant.organizer_id
    pool, (seat,) = await world(runtime, org, seats=1, legs=2)
    for bad in (Claim(seat, 0b100), Claim(seat, 0b111)):
        for call in (block, unblock):
            with pytest.raises(ValidationFailed):
                await call(runtime, org, bad)
    with pytest.raises(ValidationFailed):
        await block(runtime, org, Claim(seat, 0))
    await unblock(runtime, org, Claim(seat, 0b11))  # nothing was blocked: nothing changes
    assert await masks(runtime, org, [seat]) == [(0, beyond_legs(2))]
    with pytest.raises(SeatTaken):  # leg 2 still does not exist
        await reserve(runtime, org, [Take(pool, 1)], [Claim(seat, 0b100)])


async def test_another_organizers_unit_cannot_be_blocked_or_unblocked(runtime, tenant, other_tenant):
    _, (theirs, *_) = await world(runtime, other_tenant.organizer_id)
    for call in (block, unblock):
        with pytest.raises(NotFound):
            await call(runtime, tenant.organizer_id, Claim(theirs, 1))
    assert await masks(runtime, other_tenant.organizer_id, [theirs]) == [(0, beyond_legs(1))]
