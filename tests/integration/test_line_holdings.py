"""What an order line holds is data (``order_line_holdings``), written with the reservation and read by refunds,
on SQLite and PostgreSQL: general-admission lines hold their pools; a seat line (a resolver registered by the
test, ``tests/seat_resolver``) holds its unit and mask, and a refund gives the claim back exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from piaowu.core.errors import SoldOut, ValidationFailed
from piaowu.inventory import service as inventory
from piaowu.orders import payment_flow, refunds
from piaowu.orders import service as orders
from piaowu.orders.models import OrderLine, OrderLineHolding
from piaowu.orders.schemas import BuyerIn, CashPaymentIn, HolderIn, OrderIn, OrderItemIn, RefundIn, SelectedItemIn
from piaowu.workers import sweeper
from tests.concurrency.ledger import in_uow, pools_of
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import BUYER as API_BUYER
from tests.order_helpers import drain, gateway_pay, wire_callbacks
from tests.seat_resolver import KIND, sell_seats

BUYER = BuyerIn(name="李四", phone="13900001111")


async def _holdings(rt, order_id: str) -> list[list[tuple]]:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        rows = (
            await uow.session.execute(
                select(
                    OrderLine.id,
                    OrderLineHolding.pool_id,
                    OrderLineHolding.unit_id,
                    OrderLineHolding.quantity,
                    OrderLineHolding.mask,
                )
                .join(OrderLineHolding, OrderLineHolding.line_id == OrderLine.id)
                .where(OrderLine.order_id == order_id)
                .order_by(OrderLine.id, OrderLineHolding.id)
            )
        ).all()
    by_line: dict[str, list[tuple]] = {}
    for line_id, *held in rows:
        by_line.setdefault(line_id, []).append(tuple(held))
    return list(by_line.values())


async def _count_holdings(rt) -> int:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        return (await uow.session.execute(select(func.count()).select_from(OrderLineHolding))).scalar_one()


async def test_general_admission_lines_hold_one_unit_of_each_pool_and_a_refusal_writes_none(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=3, quota=2, second_type=True)
    session_pool, quota_pool = await pools_of(runtime, sale.session_id)
    items = [OrderItemIn(ticket_type_id=sale.ticket_type_id, quantity=2)]
    assert sale.other_ticket_type_id is not None
    items.append(OrderItemIn(ticket_type_id=sale.other_ticket_type_id, quantity=1))
    out = await in_uow(runtime, lambda uow: orders.create_order(uow, actor, OrderIn(items=items, buyer=BUYER)))
    assert await _holdings(runtime, out.id) == [
        [(session_pool, None, 1, 0), (quota_pool, None, 1, 0)],
        [(session_pool, None, 1, 0), (quota_pool, None, 1, 0)],
        [(session_pool, None, 1, 0)],
    ]
    before = await _count_holdings(runtime)
    with pytest.raises(SoldOut):
        await in_uow(runtime, lambda uow: orders.create_order(uow, actor, OrderIn(items=items[1:], buyer=BUYER)))
    assert await _count_holdings(runtime) == before  # the refused reservation wrote nothing, holdings included


async def test_a_seat_line_holds_its_unit_and_a_refund_gives_the_claim_back_exactly_once(runtime, tenant):
    sell_seats(runtime)
    org = tenant.organizer_id
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=10)
    other = await on_sale_session(runtime, actor, capacity=10)
    (session_pool,) = await pools_of(runtime, sale.session_id)
    (other_pool,) = await pools_of(runtime, other.session_id)
    a, b = await in_uow(runtime, lambda uow: inventory.create_units(uow, org, ["A1", "A2"], pool_id=session_pool))
    (foreign,) = await in_uow(runtime, lambda uow: inventory.create_units(uow, org, ["Z1"], pool_id=other_pool))

    def seats(*ids: str, holders: tuple[str, ...] = ()) -> OrderIn:
        item = SelectedItemIn(
            product=KIND,
            selection={"ticket_type_id": sale.ticket_type_id, "seats": list(ids)},
            holders=[HolderIn(name=h) for h in holders],
        )
        return OrderIn(items=[item], buyer=BUYER)

    async def state() -> tuple[int, list[int]]:
        async with runtime.uow(readonly=True) as uow:
            sold = (await inventory.counts(uow, org, [session_pool]))[session_pool].sold
            units = await inventory.unit_states(uow, org, [a, b])
        return sold, [units[a].occupied, units[b].occupied]

    # A seat of another session is not the offer's: refused, nothing claimed.
    with pytest.raises(ValidationFailed):
        await in_uow(runtime, lambda uow: orders.create_order(uow, actor, seats(a, foreign)))

    out = await in_uow(runtime, lambda uow: orders.create_order(uow, actor, seats(a, b, holders=("王五", "赵六"))))
    assert await _holdings(runtime, out.id) == [
        [(session_pool, None, 1, 0), (None, a, 0, 1)],
        [(session_pool, None, 1, 0), (None, b, 0, 1)],
    ]
    await in_uow(runtime, lambda uow: payment_flow.pay_at_counter(uow, actor, out.id, CashPaymentIn()))
    assert await state() == (2, [1, 1])
    async with runtime.uow(readonly=True) as uow:
        names = (await uow.session.execute(select(OrderLine.holder_name).where(OrderLine.order_id == out.id))).all()
    assert sorted(n for (n,) in names) == ["王五", "赵六"]

    line_a = out.lines[0].id
    await in_uow(runtime, lambda uow: refunds.refund_order(uow, actor, out.id, RefundIn(line_ids=[line_a])))
    assert await state() == (1, [0, 1]), "the refunded line's seat and its pool unit come back"

    # Someone else buys the seat that came back; refunding the first line again must not free it.
    await in_uow(runtime, lambda uow: orders.create_order(uow, actor, seats(a)))
    with pytest.raises(ValidationFailed) as again:
        await in_uow(runtime, lambda uow: refunds.refund_order(uow, actor, out.id, RefundIn(line_ids=[line_a])))
    assert again.value.errors[0]["code"] == "not_refundable"
    sold, occupied = await state()
    assert occupied == [1, 1] and sold == 1


async def test_a_late_payment_takes_the_same_seat_again_or_is_refunded(runtime, app, client, clock, tenant):
    """An expired order's seats went back on sale; a payment landing later revives it only with the same seats."""
    wire_callbacks(runtime, app)
    sell_seats(runtime)
    org = tenant.organizer_id
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=10)
    (pool,) = await pools_of(runtime, sale.session_id)
    a, b = await in_uow(runtime, lambda uow: inventory.create_units(uow, org, ["A1", "A2"], pool_id=pool))

    async def buy(seat: str) -> dict:
        item = {"product": KIND, "selection": {"ticket_type_id": sale.ticket_type_id, "seats": [seat]}}
        r = await client.post("/api/v1/orders", json={"items": [item], "buyer": API_BUYER}, headers=tenant.auth)
        assert r.status_code == 201, r.text
        return r.json()

    async def start(order: dict) -> str:
        r = await client.post(f"/api/v1/orders/{order['id']}/payments", json={}, headers=tenant.auth)
        return r.json()["redirect_url"]

    first, second = await buy(a), await buy(b)
    pay_first, pay_second = await start(first), await start(second)
    clock.advance(timedelta(minutes=16))
    assert await sweeper.expire_orders(runtime) == 2
    other = await buy(b)  # someone else takes seat b meanwhile
    await client.post(f"/api/v1/orders/{other['id']}/pay", json={"method": "cash"}, headers=tenant.auth)

    for url in (pay_first, pay_second):
        await gateway_pay(runtime, url)
    await drain(runtime)
    await drain(runtime)
    got = {
        o["id"]: (await client.get(f"/api/v1/orders/{o['id']}", headers=tenant.auth)).json() for o in (first, second)
    }
    assert got[first["id"]]["status"] == "paid", "seat a was free: the order is revived with it"
    assert got[second["id"]]["status"] == "expired", "seat b was sold again: the late payment is refunded"
    async with runtime.uow(readonly=True) as uow:
        units = await inventory.unit_states(uow, org, [a, b])
        sold = (await inventory.counts(uow, org, [pool]))[pool].sold
    assert (units[a].occupied, units[b].occupied, sold) == (1, 1, 2)

    # The revived order's refund frees its seat (the claim is on its new hold).
    r = await client.post(f"/api/v1/orders/{first['id']}/refunds", json={}, headers=tenant.auth)
    assert r.status_code == 200, r.text
    async with runtime.uow(readonly=True) as uow:
        assert (await inventory.unit_states(uow, org, [a]))[a].occupied == 0
