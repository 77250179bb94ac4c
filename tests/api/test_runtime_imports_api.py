"""A paid order's requests import nothing at run time (tests/unit/test_runtime_imports.py says why): placing the
order, starting the payment, the gateway's notification and the buyer's status read, after one order that loaded
what they load. A module imported inside a function that is not installed is searched for on every call."""

from __future__ import annotations

from tests.factories import on_sale_session, owner_actor
from tests.import_searches import watched
from tests.order_helpers import create_order, drain, gateway_pay, wire_callbacks


async def _paid_order(client, runtime, tenant, ticket_type_id: str) -> None:  # noqa: ANN001
    r = await create_order(client, tenant.auth, ticket_type_id)
    assert r.status_code == 201, r.text
    url = f"/api/v1/orders/{r.json()['id']}"
    start = await client.post(url + "/payments", json={"provider": "sandbox"}, headers=tenant.auth)
    assert start.status_code == 201, start.text
    await gateway_pay(runtime, start.json()["redirect_url"])
    assert await drain(runtime) >= 1  # the notification, through the app
    status = await client.get(url + "/status", params={"with_order": "true"}, headers=tenant.auth)
    assert status.json()["status"] == "paid", status.text


async def test_a_paid_orders_requests_search_for_no_module(runtime, app, client, tenant):
    wire_callbacks(runtime, app)
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=5)
    await _paid_order(client, runtime, tenant, sale.ticket_type_id)
    with watched() as searches:
        await _paid_order(client, runtime, tenant, sale.ticket_type_id)
    assert searches.names == [], f"imported at run time: {sorted(set(searches.names))}"
