"""Order state changes go through the state table (SQLite and PostgreSQL): a transition the table forbids raises
InvalidState and writes nothing; one that loses a race (the order is no longer in a source state) is False."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from piaowu.core.errors import InvalidState
from piaowu.orders import payment_flow
from piaowu.orders import repository as repo
from piaowu.orders.models import Order
from piaowu.orders.schemas import CashPaymentIn
from piaowu.orders.states import OrderStatus
from tests.concurrency.ledger import in_uow
from tests.factories import on_sale_session, owner_actor, pending_order


async def _status(rt, order_id: str) -> str:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        return (await uow.session.execute(select(Order.status).where(Order.id == order_id))).scalar_one()


async def test_a_forbidden_transition_raises_and_writes_nothing(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=5)
    order = await pending_order(runtime, actor, sale.ticket_type_id, 1)
    await in_uow(runtime, lambda uow: payment_flow.pay_at_counter(uow, actor, order.id, CashPaymentIn()))
    assert await _status(runtime, order.id) == "paid"
    # Paid → cancelled, expired, paid again or pending: the table forbids each, whatever the row holds.
    for target, only_from in (
        (OrderStatus.CANCELLED, frozenset({OrderStatus.PAID})),
        (OrderStatus.EXPIRED, frozenset({OrderStatus.PAID})),
        (OrderStatus.PAID, frozenset({OrderStatus.PAID})),
        (OrderStatus.PENDING, frozenset({OrderStatus.PAID})),
        (OrderStatus.PENDING, None),  # nothing may move to pending
    ):
        with pytest.raises(InvalidState):
            async with runtime.uow() as uow:
                await repo.transition(uow.session, order.id, target, only_from=only_from)
                await uow.commit()
        assert await _status(runtime, order.id) == "paid"


async def test_an_allowed_transition_that_lost_the_race_is_false_not_an_error(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=5)
    order = await pending_order(runtime, actor, sale.ticket_type_id, 1)
    async with runtime.uow() as uow:
        assert await repo.transition(uow.session, order.id, OrderStatus.CANCELLED, closed_at=uow.now())
        # the sweeper comes second: pending → expired is allowed, but the order is no longer pending
        assert not await repo.transition(uow.session, order.id, OrderStatus.EXPIRED, closed_at=uow.now())
        await uow.commit()
    assert await _status(runtime, order.id) == "cancelled"


async def test_an_order_entity_loaded_in_the_unit_of_work_sees_what_the_transition_wrote(runtime, tenant):
    """The transition is a prebuilt Core update (no ORM synchronisation of its own): staff paths that hold the
    Order entity must still see the new state and values without a refresh — and a lost race changes nothing."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=5)
    order = await pending_order(runtime, actor, sale.ticket_type_id, 1)
    async with runtime.uow() as uow:
        held = await repo.order(uow.session, actor.organizer_id, order.id)
        assert held is not None and held.status == "pending" and held.closed_at is None
        assert await repo.transition(uow.session, order.id, OrderStatus.CANCELLED, closed_at=uow.now())
        assert held.status == "cancelled" and held.closed_at == uow.now()
        assert not await repo.transition(uow.session, order.id, OrderStatus.EXPIRED, closed_at=None)
        assert held.status == "cancelled" and held.closed_at == uow.now()
        await uow.commit()
    assert await _status(runtime, order.id) == "cancelled"
