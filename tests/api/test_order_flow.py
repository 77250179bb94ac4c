"""The sale end to end through the API: hold, pay (counter and sandbox gateway), expire, late payment, refund."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from piaowu.payments.models import Payment, Refund
from piaowu.workers import sweeper
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import BUYER, create_order, drain, gateway_pay, wire_callbacks


async def _session_state(client, tenant, session_id):
    return (await client.get(f"/api/v1/sessions/{session_id}", headers=tenant.auth)).json()


async def test_counter_sale_issues_tickets_and_sells_units(runtime, client, tenant):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=10)
    r = await create_order(client, tenant.auth, sale.ticket_type_id, 3)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "pending" and order["total_minor"] == 3 * sale.price_minor
    s = await _session_state(client, tenant, sale.session_id)
    assert (s["held"], s["sold"], s["available"]) == (3, 0, 7)

    r = await client.post(f"/api/v1/orders/{order['id']}/pay", json={"method": "cash"}, headers=tenant.auth)
    assert r.status_code == 200, r.text
    paid = r.json()
    assert paid["status"] == "paid" and paid["paid_minor"] == paid["total_minor"]
    assert all(line["ticket"] and line["ticket"]["status"] == "valid" for line in paid["lines"])
    assert len({line["ticket"]["code"] for line in paid["lines"]}) == 3
    s = await _session_state(client, tenant, sale.session_id)
    assert (s["held"], s["sold"], s["available"]) == (0, 3, 7)

    again = await client.post(f"/api/v1/orders/{order['id']}/pay", json={"method": "cash"}, headers=tenant.auth)
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"


async def test_sandbox_payment_notification_applies_once(runtime, app, client, tenant):
    wire_callbacks(runtime, app)
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=5)
    order = (await create_order(client, tenant.auth, sale.ticket_type_id, 2)).json()
    r = await client.post(f"/api/v1/orders/{order['id']}/payments", json={"provider": "sandbox"}, headers=tenant.auth)
    assert r.status_code == 201, r.text
    start = r.json()
    assert start["redirect_url"].startswith("/sandbox-gateway/pay/")
    await gateway_pay(runtime, start["redirect_url"])
    assert await drain(runtime) >= 1  # the gateway's notification reached the notify endpoint
    got = (await client.get(f"/api/v1/orders/{order['id']}", headers=tenant.auth)).json()
    assert got["status"] == "paid" and all(line["ticket"] for line in got["lines"])

    # The gateway retries (or an attacker replays) the same signed body: nothing changes.
    async with runtime.uow(readonly=True) as uow:
        pay = (await uow.session.execute(select(Payment).where(Payment.order_id == order["id"]))).scalar_one()
    from piaowu.payments import sandbox_gateway as gw

    async with runtime.uow(readonly=True) as uow:
        trade = await gw.get_trade(uow.session, pay.provider_ref)
    body = gw.notification_body(trade, f"N{trade.trade_no}")
    sig = gw.sign(gw.merchant_key(runtime.secret_key), body)
    for _ in range(3):
        resp = await client.post("/api/v1/payments/notify/sandbox", content=body, headers={gw.SIGNATURE_HEADER: sig})
        assert resp.status_code == 200 and resp.text == "success"
    again = (await client.get(f"/api/v1/orders/{order['id']}", headers=tenant.auth)).json()
    assert again["paid_minor"] == got["paid_minor"] and len(again["payments"]) == 1
    s = await _session_state(client, tenant, sale.session_id)
    assert s["sold"] == 2 and s["held"] == 0

    forged = await client.post(
        "/api/v1/payments/notify/sandbox", content=body.replace(b"2", b"3"), headers={gw.SIGNATURE_HEADER: sig}
    )
    assert forged.status_code == 400 and forged.json()["code"] == "invalid_signature"


async def test_expired_hold_returns_units_and_late_payment_revives_the_order(runtime, app, client, clock, tenant):
    wire_callbacks(runtime, app)
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=2)
    order = (await create_order(client, tenant.auth, sale.ticket_type_id, 2)).json()
    start = (await client.post(f"/api/v1/orders/{order['id']}/payments", json={}, headers=tenant.auth)).json()
    clock.advance(timedelta(minutes=16))
    assert await sweeper.expire_orders(runtime) == 1
    s = await _session_state(client, tenant, sale.session_id)
    assert (s["held"], s["sold"], s["available"]) == (0, 0, 2)
    late = await client.post(f"/api/v1/orders/{order['id']}/payments", json={}, headers=tenant.auth)
    assert late.status_code == 409 and late.json()["code"] == "invalid_state"

    # The buyer had paid at 14:59 on the gateway page; the notification arrives now. Units are free: revive.
    await gateway_pay(runtime, start["redirect_url"])
    await drain(runtime)
    got = (await client.get(f"/api/v1/orders/{order['id']}", headers=tenant.auth)).json()
    assert got["status"] == "paid" and all(line["ticket"] for line in got["lines"])
    s = await _session_state(client, tenant, sale.session_id)
    assert (s["held"], s["sold"]) == (0, 2)


async def test_late_payment_when_sold_out_is_refunded_automatically(runtime, app, client, clock, tenant):
    wire_callbacks(runtime, app)
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=1)
    order = (await create_order(client, tenant.auth, sale.ticket_type_id, 1)).json()
    start = (await client.post(f"/api/v1/orders/{order['id']}/payments", json={}, headers=tenant.auth)).json()
    clock.advance(timedelta(minutes=16))
    assert await sweeper.expire_orders(runtime) == 1
    other = (await create_order(client, tenant.auth, sale.ticket_type_id, 1)).json()  # someone else buys the seat
    await client.post(f"/api/v1/orders/{other['id']}/pay", json={"method": "cash"}, headers=tenant.auth)

    await gateway_pay(runtime, start["redirect_url"])
    await drain(runtime)  # notification → refund queued
    await drain(runtime)  # refund executed at the gateway
    got = (await client.get(f"/api/v1/orders/{order['id']}", headers=tenant.auth)).json()
    assert got["status"] == "expired" and not any(line["ticket"] for line in got["lines"])
    assert got["payments"][0]["status"] == "succeeded" and got["payments"][0]["refunded_minor"] == sale.price_minor
    async with runtime.uow(readonly=True) as uow:
        refund = (await uow.session.execute(select(Refund).where(Refund.order_id == order["id"]))).scalar_one()
    assert refund.status == "succeeded" and refund.amount_minor == sale.price_minor
    s = await _session_state(client, tenant, sale.session_id)
    assert (s["held"], s["sold"]) == (0, 1)  # never oversold


async def test_refunds_void_tickets_return_units_and_never_exceed_paid(runtime, client, tenant):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=10)
    order = (await create_order(client, tenant.auth, sale.ticket_type_id, 3)).json()
    paid = (await client.post(f"/api/v1/orders/{order['id']}/pay", json={"method": "cash"}, headers=tenant.auth)).json()
    first = paid["lines"][0]["id"]
    r = await client.post(f"/api/v1/orders/{order['id']}/refunds", json={"line_ids": [first]}, headers=tenant.auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "partially_refunded" and body["refunded_minor"] == sale.price_minor
    assert next(line for line in body["lines"] if line["id"] == first)["ticket"]["status"] == "refunded"
    again = await client.post(f"/api/v1/orders/{order['id']}/refunds", json={"line_ids": [first]}, headers=tenant.auth)
    assert again.status_code == 422 and again.json()["code"] == "validation_error"
    rest = await client.post(f"/api/v1/orders/{order['id']}/refunds", json={}, headers=tenant.auth)
    assert rest.json()["status"] == "refunded" and rest.json()["refunded_minor"] == rest.json()["paid_minor"]
    s = await _session_state(client, tenant, sale.session_id)
    assert (s["held"], s["sold"], s["available"]) == (0, 0, 10)
    none_left = await client.post(f"/api/v1/orders/{order['id']}/refunds", json={}, headers=tenant.auth)
    assert none_left.status_code == 409 and none_left.json()["code"] == "refund_not_allowed"


async def test_cancel_releases_units_and_customer_lookup_needs_matching_contact(runtime, client, tenant):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=4)
    order = (await create_order(client, tenant.auth, sale.ticket_type_id, 4)).json()
    assert (await create_order(client, tenant.auth, sale.ticket_type_id, 1)).json()["code"] == "sold_out"
    shop = f"/api/v1/shop/{tenant.slug}"
    wrong = await client.post(f"{shop}/orders/lookup", json={"code": order["code"], "contact": "13900000000"})
    assert wrong.status_code == 404 and wrong.json()["code"] == "order_not_found"
    found = await client.post(f"{shop}/orders/lookup", json={"code": order["code"].lower(), "contact": BUYER["phone"]})
    assert found.status_code == 200 and found.json()["id"] == order["id"]
    r = await client.post(f"{shop}/orders/{order['code']}/cancel", json={"contact": BUYER["email"]})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    s = await _session_state(client, tenant, sale.session_id)
    assert (s["held"], s["available"]) == (0, 4)


async def test_idempotency_key_replays_and_rejects_a_different_body(runtime, client, tenant):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=10)
    key = {"headers": {"Idempotency-Key": "k-123"}}
    a = await create_order(client, tenant.auth, sale.ticket_type_id, 2, **key)
    b = await create_order(client, tenant.auth, sale.ticket_type_id, 2, **key)
    assert a.status_code == b.status_code == 201 and a.json()["id"] == b.json()["id"]
    assert b.headers.get("Idempotent-Replayed") == "true"
    c = await create_order(client, tenant.auth, sale.ticket_type_id, 3, **key)
    assert c.status_code == 422 and c.json()["code"] == "idempotency_key_reused"
    s = await _session_state(client, tenant, sale.session_id)
    assert s["held"] == 2  # one order, not two


async def test_a_quota_and_its_session_pool_are_taken_together_or_not_at_all(runtime, client, tenant):
    sale = await on_sale_session(
        runtime, await owner_actor(runtime, tenant.owner_id), capacity=5, quota=3, second_type=True
    )
    assert (await create_order(client, tenant.auth, sale.ticket_type_id, 3)).status_code == 201
    short = await create_order(client, tenant.auth, sale.ticket_type_id, 1)  # quota exhausted, session is not
    assert short.status_code == 409 and short.json()["code"] == "sold_out"
    s = await _session_state(client, tenant, sale.session_id)
    assert (s["held"], s["available"]) == (3, 2)  # the failed order took nothing from the session pool
    assert (await create_order(client, tenant.auth, sale.other_ticket_type_id, 2)).status_code == 201
    full = await create_order(client, tenant.auth, sale.other_ticket_type_id, 1)
    assert full.json()["code"] == "sold_out"
    s = await _session_state(client, tenant, sale.session_id)
    assert (s["held"], s["available"]) == (5, 0)
    types = {t["id"]: t["available"] for t in s["ticket_types"]}
    assert types == {sale.ticket_type_id: 0, sale.other_ticket_type_id: 0}


async def test_status_read_for_polling_follows_the_order(runtime, client, tenant, other_tenant):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=3)
    order = (await create_order(client, tenant.auth, sale.ticket_type_id, 1)).json()
    url = f"/api/v1/orders/{order['id']}/status"
    assert (await client.get(url, headers=tenant.auth)).json()["status"] == "pending"
    await client.post(f"/api/v1/orders/{order['id']}/pay", json={"method": "cash"}, headers=tenant.auth)
    paid = (await client.get(url, headers=tenant.auth)).json()
    assert paid["status"] == "paid" and paid["paid_at"]
    assert (await client.get(url, headers=other_tenant.auth)).status_code == 404
