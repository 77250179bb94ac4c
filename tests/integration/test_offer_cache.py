"""The sale path's offer cache (catalog.offers.OfferCache) re-reads only the rows an order needs: a refused
request — an unknown ticket type, a quantity over the limit — never evicts the rows other buyers have cached,
and a stale read refreshes just the offers of the order that found it (docs/architecture.md, "Caches on the
sale path")."""

from __future__ import annotations

import pytest

from piaowu.catalog import offers as catalog_offers
from piaowu.catalog import ticket_type_service
from piaowu.catalog.schemas import TicketTypePatch
from piaowu.core.errors import InvalidQuantity, SeatRequired, ValidationFailed
from piaowu.inventory import service as inventory
from piaowu.seating import session_seating
from tests.concurrency.ledger import buy, in_uow
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
