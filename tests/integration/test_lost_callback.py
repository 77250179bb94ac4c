"""Money the gateway took must reach the order even when its callback never arrives (issue 5).

The buyer pays on the sandbox gateway's page; its notification is lost (the merchant was unreachable, the
retries ran out). The order expires — its pending payment is marked cancelled — and the gateway keeps the
money. Asking the gateway must still end with tickets or a full refund: the buyer's order lookup does, and
so does the periodic reconciliation (tests/integration/test_reconciliation.py).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from piaowu.core.events import Topic
from piaowu.db.outbox import OutboxMessage
from piaowu.payments.models import Payment, SandboxTransaction
from piaowu.runtime import Runtime
from piaowu.workers import sweeper
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import BUYER, create_order, drain, gateway_pay, wire_callbacks


async def lose_callbacks(rt: Runtime) -> int:
    """The gateway's notifications never reach us: drop them from its delivery queue."""
    async with rt.uow() as uow:
        res = await uow.session.execute(delete(OutboxMessage).where(OutboxMessage.topic == Topic.SANDBOX_CALLBACK))
        await uow.commit()
    return res.rowcount


async def paid_but_expired(rt: Runtime, client, tenant, clock, *, capacity: int = 2, qty: int = 2) -> dict:  # noqa: ANN001
    """An order whose buyer paid on the gateway page, whose callback was lost, and which then expired."""
    sale = await on_sale_session(rt, await owner_actor(rt, tenant.owner_id), capacity=capacity)
    order = (await create_order(client, tenant.auth, sale.ticket_type_id, qty)).json()
    start = (await client.post(f"/api/v1/orders/{order['id']}/payments", json={}, headers=tenant.auth)).json()
    await gateway_pay(rt, start["redirect_url"])
    assert await lose_callbacks(rt) == 1
    clock.advance(timedelta(minutes=16))
    assert await sweeper.expire_orders(rt) == 1
    async with rt.uow(readonly=True) as uow:
        pay = (await uow.session.execute(select(Payment).where(Payment.order_id == order["id"]))).scalar_one()
        trade = await uow.session.get(SandboxTransaction, pay.provider_ref)
    assert pay.status == "cancelled" and trade.status == "paid"  # the gateway has the money; we said cancelled
    return {**order, "sale": sale, "payment_id": pay.id, "trade_no": trade.trade_no}


async def test_order_lookup_recovers_a_payment_whose_order_expired(runtime, app, client, clock, tenant):
    wire_callbacks(runtime, app)
    order = await paid_but_expired(runtime, client, tenant, clock)

    found = await client.post(
        f"/api/v1/shop/{tenant.slug}/orders/lookup", json={"code": order["code"], "contact": BUYER["phone"]}
    )

    assert found.status_code == 200
    body = found.json()
    assert body["status"] == "paid" and all(line["ticket"] for line in body["lines"])
    await drain(runtime)
    again = await client.post(
        f"/api/v1/shop/{tenant.slug}/orders/lookup", json={"code": order["code"], "contact": BUYER["phone"]}
    )
    assert again.json()["status"] == "paid" and again.json()["paid_minor"] == body["paid_minor"]


async def test_order_lookup_refunds_in_full_when_the_units_are_gone(runtime, app, client, clock, tenant):
    wire_callbacks(runtime, app)
    order = await paid_but_expired(runtime, client, tenant, clock, capacity=1, qty=1)
    other = (await create_order(client, tenant.auth, order["sale"].ticket_type_id, 1)).json()
    paid = await client.post(f"/api/v1/orders/{other['id']}/pay", json={"method": "cash"}, headers=tenant.auth)
    assert paid.status_code == 200

    found = await client.post(
        f"/api/v1/shop/{tenant.slug}/orders/lookup", json={"code": order["code"], "contact": BUYER["phone"]}
    )
    await drain(runtime)  # the refund goes to the gateway

    assert found.json()["status"] == "expired"
    async with runtime.uow(readonly=True) as uow:
        trade = await uow.session.get(SandboxTransaction, order["trade_no"])
        pay = await uow.session.get(Payment, order["payment_id"])
    assert pay.status == "succeeded" and pay.refunded_minor == pay.amount_minor
    assert trade.refunded_minor == trade.amount_minor  # the buyer has every yuan back


async def test_order_lookup_applies_nothing_when_the_gateway_reports_another_amount(
    runtime, app, client, clock, tenant
):
    wire_callbacks(runtime, app)
    order = await paid_but_expired(runtime, client, tenant, clock)
    async with runtime.uow() as uow:
        trade = await uow.session.get(SandboxTransaction, order["trade_no"])
        trade.amount_minor += 1
        await uow.commit()

    found = await client.post(
        f"/api/v1/shop/{tenant.slug}/orders/lookup", json={"code": order["code"], "contact": BUYER["phone"]}
    )

    assert found.status_code == 200 and found.json()["status"] == "expired"  # left for reconciliation to flag
