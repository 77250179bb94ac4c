"""Confirming and releasing holds move the pool counters once, under any interleaving, on SQLite and PostgreSQL.

On PostgreSQL ``inventory.confirm`` and ``inventory.release`` close the hold and move every pool's counters in
one statement (``inventory.repository.close_and_shift``), locking the pools in id order like the reservation.
These races check what that statement must keep: a hold is closed once (a second confirm or a release after a
confirm moves nothing), every pool of a two-pool hold moves together, and confirmations, releases and new
reservations over the same two pools neither deadlock nor lose an update.
"""

from __future__ import annotations

import random

import pytest

from piaowu.core.errors import HoldExpired, SoldOut
from piaowu.inventory import service as inventory
from piaowu.inventory.rules import Take
from tests.concurrency.ledger import in_uow, ledger, pools_of, settle, warm
from tests.factories import on_sale_session, owner_actor

pytestmark = pytest.mark.slow


async def _hold(runtime, organizer_id: str, pools: list[str]) -> str:  # noqa: ANN001
    async def take(uow):  # noqa: ANN001, ANN202
        return (await inventory.reserve(uow, organizer_id, [Take(p, 1) for p in pools], expires_at=uow.now())).id

    return await in_uow(runtime, take)


def _counted(book) -> tuple[int, int]:  # noqa: ANN001
    """(held, sold) of a pool against its holds' items (bare holds: no order lines to compare with)."""
    assert book.held == book.held_rows, f"held disagrees with the active holds: {book}"
    assert book.sold == book.sold_rows, f"sold disagrees with the converted holds: {book}"
    assert book.within_capacity, book
    return book.held, book.sold


async def test_confirm_release_and_reserve_race_over_two_pools(runtime, tenant):
    """30 two-pool holds (session pool + quota pool): 15 confirmed, 15 released, 8 of the confirmed ones
    confirmed again and 6 released too, all at once, while 20 buyers take what they can of both pools. Nothing
    fails but the buyers' sold-outs; each pool counts exactly its holds' items."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=40, quota=35)
    pools = sorted(await pools_of(runtime, sale.session_id))
    assert len(pools) == 2
    holds = [await _hold(runtime, tenant.organizer_id, pools) for _ in range(30)]
    confirmed, released = holds[:15], holds[15:]
    await warm(runtime, 16)

    async def confirm(hold_id: str) -> str:
        try:
            await in_uow(runtime, lambda uow: inventory.confirm(uow, hold_id))
        except HoldExpired:  # a racing release closed it first
            return "released first"
        return "confirmed"

    async def release(hold_id: str) -> bool:
        return await in_uow(runtime, lambda uow: inventory.release(uow, hold_id))

    async def reserve() -> str:
        try:
            await _hold(runtime, tenant.organizer_id, pools)
        except SoldOut:
            return "sold_out"
        return "held"

    work = [
        *(confirm(h) for h in confirmed),
        *(release(h) for h in released),
        *(confirm(h) for h in confirmed[:8]),  # twice: the second changes nothing
        *(release(h) for h in confirmed[8:14]),  # once sold, a hold is not released
        *(reserve() for _ in range(20)),
    ]
    order = list(range(len(work)))
    random.Random(11).shuffle(order)
    shuffled = [work[i] for i in order]
    outcomes = await settle(shuffled)
    by_task = [outcomes[order.index(i)] for i in range(len(work))]
    assert not [o for o in by_task if isinstance(o, BaseException)], [o for o in by_task if isinstance(o, Exception)]
    releases = by_task[15:30]
    assert releases == [True] * 15, releases
    # A release racing the confirmation of the same hold closes it first or finds it sold: either way once.
    released_late = sum(1 for r in by_task[38:44] if r is True)
    assert by_task[:15].count("released first") == released_late
    assert by_task[30:38].count("released first") == 0
    new_holds = by_task[44:].count("held")
    books = await ledger(runtime, pools)
    for held, sold in [_counted(books[p]) for p in pools]:
        assert sold == 15 - released_late
        assert held == new_holds


async def test_a_hold_closes_once(runtime, tenant):
    """Confirm twice, release after confirm, release twice: the counters move once per hold."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=10, quota=5)
    pools = sorted(await pools_of(runtime, sale.session_id))
    sold, gone = await _hold(runtime, tenant.organizer_id, pools), await _hold(runtime, tenant.organizer_id, pools)
    for _ in range(2):
        await in_uow(runtime, lambda uow: inventory.confirm(uow, sold))
    assert await in_uow(runtime, lambda uow: inventory.release(uow, sold)) is False
    assert await in_uow(runtime, lambda uow: inventory.release(uow, gone)) is True
    assert await in_uow(runtime, lambda uow: inventory.release(uow, gone)) is False
    books = await ledger(runtime, pools)
    assert [_counted(books[p]) for p in pools] == [(0, 1), (0, 1)]


async def test_confirms_of_many_holds_at_once_do_not_deadlock(runtime, tenant):
    """40 two-pool holds confirmed at once, half of them racing a release of another hold: on PostgreSQL each
    statement locks both pools in id order, so no two of them wait for each other in a cycle."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=60, quota=60)
    pools = sorted(await pools_of(runtime, sale.session_id))
    holds = [await _hold(runtime, tenant.organizer_id, pools) for _ in range(40)]
    await warm(runtime, 16)
    outcomes = await settle(
        [
            *(in_uow(runtime, lambda uow, h=h: inventory.confirm(uow, h)) for h in holds[:20]),
            *(in_uow(runtime, lambda uow, h=h: inventory.release(uow, h)) for h in holds[20:]),
        ]
    )
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    books = await ledger(runtime, pools)
    assert [_counted(books[p]) for p in pools] == [(0, 20), (0, 20)]
