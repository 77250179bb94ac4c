from __future__ import annotations

from datetime import timedelta

import pytest

from piaowu.catalog import event_service, session_service, ticket_type_service
from piaowu.catalog import offers as catalog_offers
from piaowu.catalog.schemas import SessionPatch, TicketTypePatch
from piaowu.core.errors import InvalidState, NotFound, ValidationFailed
from piaowu.orders import session_cancel
from tests.factories import on_sale_session, owner_actor


async def test_session_and_ticket_type_availability(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=50, quota=20)
    async with runtime.uow(readonly=True) as uow:
        s = await session_service.get_session(uow, actor, sale.session_id)
    assert s.capacity == 50 and s.available == 50 and s.sale_state == "on_sale"
    assert s.ticket_types[0].available == 20  # the quota is scarcer than the session


async def test_bad_times_limits_and_transitions_are_refused(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=10)
    async with runtime.uow() as uow:
        with pytest.raises(ValidationFailed) as err:
            await session_service.update_session(
                uow, actor, sale.session_id, SessionPatch(ends_at=runtime.clock.now() - timedelta(days=1))
            )
        assert err.value.errors[0]["field"] == "ends_at"
    async with runtime.uow() as uow:
        await session_cancel.cancel_session(uow, actor, sale.session_id)
        await uow.commit()
    async with runtime.uow() as uow:
        with pytest.raises(InvalidState):
            await session_service.update_session(uow, actor, sale.session_id, SessionPatch(status="on_sale"))
        with pytest.raises(ValidationFailed):
            await ticket_type_service.update_ticket_type(
                uow, actor, sale.ticket_type_id, TicketTypePatch(max_per_order=1, min_per_order=5)
            )


async def test_other_organizer_cannot_read_or_edit(runtime, tenant, other_tenant):
    mine = await owner_actor(runtime, tenant.owner_id)
    theirs = await owner_actor(runtime, other_tenant.owner_id)
    sale = await on_sale_session(runtime, mine)
    async with runtime.uow() as uow:
        with pytest.raises(NotFound):
            await event_service.get_event(uow, theirs, sale.event_id)
        with pytest.raises(NotFound):
            await session_service.update_session(uow, theirs, sale.session_id, SessionPatch(capacity=1))
        assert await catalog_offers.offers_for(uow, theirs.organizer_id, [sale.ticket_type_id]) == {}
