"""The sale path's offer cache (catalog.offers.OfferCache) re-reads only the rows an order needs: a refused
request — an unknown ticket type, a quantity over the limit — never evicts the rows other buyers have cached,
and a stale read refreshes just the offers of the order that found it (docs/architecture.md, "Caches on the
sale path")."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from piaowu.catalog import offers as catalog_offers
from piaowu.catalog import repository as catalog_repo
from piaowu.catalog import ticket_type_service
from piaowu.catalog.models import TicketType
from piaowu.catalog.schemas import TicketTypePatch
from piaowu.core.clock import FrozenClock
from piaowu.core.errors import InvalidQuantity, SeatRequired, ValidationFailed
from piaowu.inventory import service as inventory
from piaowu.runtime import Runtime, build_runtime
from piaowu.seating import session_seating
from tests.concurrency.ledger import buy, in_uow
from tests.conftest import make_settings
from tests.factories import on_sale_session, owner_actor
from tests.seating_world import seating_world, unseated_session


@pytest.fixture
def cache(runtime):  # noqa: ANN001, ANN201
    runtime.strategies[catalog_offers.CACHE_KEY] = own = catalog_offers.OfferCache()
    yield own
    runtime.strategies.pop(catalog_offers.CACHE_KEY)


async def test_a_refused_order_leaves_other_buyers_cached_rows_alone(runtime, tenant, cache):  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=50, max_per_order=4, second_type=True)
    assert sale.other_ticket_type_id
    await buy(runtime, actor, sale.ticket_type_id)
    await buy(runtime, actor, sale.other_ticket_type_id)
    cached = dict(cache._rows)  # noqa: SLF001
    assert {k[1] for k in cached} == {sale.ticket_type_id, sale.other_ticket_type_id}

    with pytest.raises(ValidationFailed):
        await buy(runtime, actor, "no-such-ticket-type")
    with pytest.raises(InvalidQuantity):
        await buy(runtime, actor, sale.ticket_type_id, 5)

    key = (tenant.organizer_id, sale.other_ticket_type_id)
    assert cache._rows[key] is cached[key]  # noqa: SLF001 - not evicted, not re-read
    assert (
        cache._rows[(tenant.organizer_id, sale.ticket_type_id)]
        is not cached[(tenant.organizer_id, sale.ticket_type_id)]
    )  # noqa: SLF001, E501 - the refused order's own row was read again


async def test_a_stale_offer_is_re_read_and_the_order_placed_at_the_current_price(runtime, tenant, cache):  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=50, second_type=True)
    await buy(runtime, actor, sale.ticket_type_id)
    await buy(runtime, actor, sale.other_ticket_type_id)
    other = cache._rows[(tenant.organizer_id, sale.other_ticket_type_id)]  # noqa: SLF001
    await in_uow(
        runtime,
        lambda uow: ticket_type_service.update_ticket_type(
            uow, actor, sale.ticket_type_id, TicketTypePatch(price_minor=sale.price_minor + 100)
        ),
    )

    order = await buy(runtime, actor, sale.ticket_type_id)  # the cache still has the old price

    assert order.total_minor == sale.price_minor + 100
    assert cache._rows[(tenant.organizer_id, sale.ticket_type_id)][1].price_minor == sale.price_minor + 100  # noqa: SLF001
    assert cache._rows[(tenant.organizer_id, sale.other_ticket_type_id)] is other  # noqa: SLF001


async def test_a_cached_general_admission_offer_is_refused_once_its_session_has_seats(runtime, cache):  # noqa: ANN001
    """The race of the known gap: this process cached a ticket type's offer while its session had no seats; the
    session is then given a layout (by any process). The next counted order of that type, built from the cached
    offer, must not take the session's pool without a seat: the reservation statement finds the offer stale (its
    session check now sees a ``session_seating`` row), the offer is read again and the order refused with
    ``seat_required`` — nothing held, the pool entirely the seats'."""
    world = await seating_world(runtime)

    matinee_id, tt_id, pool = await unseated_session(runtime, world)
    async with runtime.uow(readonly=True) as uow:  # what an earlier order of this process left in its cache
        offers = await catalog_offers.offers_for(uow, world.organizer_id, [tt_id], cached=True)
    assert not offers[tt_id].seated

    await in_uow(runtime, lambda uow: session_seating.assign_layout(uow, world.actor, matinee_id, world.layout_id))
    assert not cache._rows[(world.organizer_id, tt_id)][1].seated  # noqa: SLF001 - still cached, now stale

    with pytest.raises(SeatRequired) as refused:
        await buy(runtime, world.actor, tt_id, 2)
    assert refused.value.data["session_id"] == matinee_id
    assert cache._rows[(world.organizer_id, tt_id)][1].seated  # noqa: SLF001 - read again
    async with runtime.uow(readonly=True) as uow:
        counts = (await inventory.counts(uow, world.organizer_id, [pool]))[pool]
    assert (counts.capacity, counts.held, counts.sold) == (len(world.seat_ids), 0, 0)


class Reads:
    """``repo.offers`` counted: which ticket types each read of the cache asked for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ids: list[set[str]] = []
        real = catalog_repo.offers

        async def counted(session, organizer_id, ticket_type_ids):  # noqa: ANN001, ANN202
            self.ids.append(set(ticket_type_ids))
            return await real(session, organizer_id, ticket_type_ids)

        monkeypatch.setattr(catalog_repo, "offers", counted)


async def _cached_name(rt: Runtime, organizer_id: str, tt_id: str) -> str:
    """What an order of this process would be built from: the cached row's name."""
    async with rt.uow(readonly=True) as uow:
        await catalog_offers.offers_for(uow, organizer_id, [tt_id], cached=True)
    return rt.strategies[catalog_offers.CACHE_KEY]._rows[(organizer_id, tt_id)][1].name  # noqa: SLF001


async def _rename_elsewhere(tmp_path: Path, db_url: str, clock: FrozenClock, tt_id: str, name: str) -> None:
    """Another process: its own runtime (engine, connections, caches) writes the change; ours is not told."""
    other = build_runtime(make_settings(tmp_path, db_url), clock=clock)
    try:
        async with other.uow() as uow:
            await uow.session.execute(update(TicketType).where(TicketType.id == tt_id).values(name=name))
            await uow.commit()
    finally:
        await other.aclose()


@pytest.mark.parametrize("ahead", [5.0, 0.0], ids=["together", "control-one-by-one"])
async def test_expiring_rows_are_refreshed_together_and_another_process_change_is_seen_within_the_ttl(  # noqa: PLR0913
    runtime,
    tenant,
    tmp_path,
    db_url,
    clock,
    monkeypatch,
    ahead,  # noqa: ANN001
) -> None:
    """Two ticket types cached 3 s apart; another process renames the second. When the first expires, the one
    read that refreshes it also re-reads the second (it expires within ``ahead``): the rename is seen then, 7 s
    after the second was cached — never later than its TTL — and the second costs no read of its own. The control
    (``ahead=0``: one read per row, as before) sees the rename only when the second row itself expires."""
    now = [0.0]
    runtime.strategies[catalog_offers.CACHE_KEY] = catalog_offers.OfferCache(
        ttl=10.0, ahead=ahead, clock=lambda: now[0]
    )
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=50, second_type=True)
    first, second = sale.ticket_type_id, sale.other_ticket_type_id
    assert second
    org = tenant.organizer_id
    await _cached_name(runtime, org, first)  # t=0: first cached, expires at 10
    now[0] = 3.0
    old = await _cached_name(runtime, org, second)  # t=3: second cached, expires at 13
    reads = Reads(monkeypatch)

    await _rename_elsewhere(tmp_path, db_url, clock, second, "Renamed elsewhere")
    now[0] = 9.0
    assert await _cached_name(runtime, org, second) == old  # within its TTL: may still be served
    assert reads.ids == []

    now[0] = 10.5  # the first has expired: one read
    await _cached_name(runtime, org, first)
    now[0] = 12.0
    seen_at_12 = await _cached_name(runtime, org, second)
    now[0] = 13.0  # the second's own TTL is over: the bound every mode keeps
    assert await _cached_name(runtime, org, second) == "Renamed elsewhere"

    if ahead:
        assert reads.ids == [{first, second}]  # together, and nothing more at 12 or 13 (refreshed at 10.5)
        assert seen_at_12 == "Renamed elsewhere"
    else:
        assert reads.ids == [{first}, {second}]
        assert seen_at_12 == old


async def test_a_row_gone_from_the_catalog_is_dropped_by_the_refresh_that_re_reads_it(  # noqa: PLR0913
    runtime,
    tenant,
    monkeypatch,  # noqa: ANN001
) -> None:
    """A refreshed row that the read no longer finds (another organizer's id, a deleted row) is not served on:
    the cache keeps only what the read returned."""
    now = [0.0]
    cache = runtime.strategies[catalog_offers.CACHE_KEY] = catalog_offers.OfferCache(clock=lambda: now[0])
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=50, second_type=True)
    assert sale.other_ticket_type_id
    org = tenant.organizer_id
    await _cached_name(runtime, org, sale.other_ticket_type_id)
    await _cached_name(runtime, org, sale.ticket_type_id)
    real = catalog_repo.offers

    async def without_other(session, organizer_id, ids):  # noqa: ANN001, ANN202
        return [r for r in await real(session, organizer_id, ids) if r.id != sale.other_ticket_type_id]

    monkeypatch.setattr(catalog_repo, "offers", without_other)
    now[0] = 11.0
    await _cached_name(runtime, org, sale.ticket_type_id)
    assert (org, sale.other_ticket_type_id) not in cache._rows  # noqa: SLF001
    assert sale.other_ticket_type_id not in cache._ids[org]  # noqa: SLF001


async def test_a_cached_rows_checks_are_built_once_and_follow_its_re_read(runtime, tenant, cache):  # noqa: ANN001
    # Each order of a cached offer carries the same checks (built when the row was read, not per order); a row
    # read again gets checks of its own values, and the old row's are forgotten.
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=50)
    await buy(runtime, actor, sale.ticket_type_id)
    row = cache._rows[(tenant.organizer_id, sale.ticket_type_id)][1]  # noqa: SLF001
    first = cache.checks(row)
    assert first is cache.checks(row) and first == catalog_offers._checks(row)  # noqa: SLF001

    async with runtime.uow() as uow:
        dearer = TicketType.price_minor + 1
        await uow.session.execute(
            update(TicketType).where(TicketType.id == sale.ticket_type_id).values(price_minor=dearer)
        )
        await uow.commit()
    fresh = await in_uow(runtime, lambda uow: cache.rows(uow, tenant.organizer_id, [sale.ticket_type_id], fresh=True))
    assert fresh[0] is not row and id(row) not in cache._checks  # noqa: SLF001
    assert cache.checks(fresh[0]) == catalog_offers._checks(fresh[0]) != first  # noqa: SLF001
    assert cache.checks(row) == first  # a row the cache no longer holds: built again, the same checks
    cache.clear()
    assert cache._checks == {}  # noqa: SLF001
