"""The box-office sale through the API (``POST /api/v1/box-office/sales``): one call creates the order and
records its counter payment — paid with tickets, or refused with nothing held or written (SQLite, PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select

from piaowu.orders.models import Order
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import BUYER

URL = "/api/v1/box-office/sales"


async def _counts(client, tenant, session_id) -> tuple[int, int, int]:  # noqa: ANN001
    s = (await client.get(f"/api/v1/sessions/{session_id}", headers=tenant.auth)).json()
    return s["held"], s["sold"], s["available"]


async def _orders(rt) -> int:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        return (await uow.session.execute(select(func.count()).select_from(Order))).scalar_one()


async def test_a_sale_is_paid_with_tickets_and_a_repeat_with_its_key_sells_nothing_more(runtime, client, tenant):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=10)
    body = {
        "items": [{"ticket_type_id": sale.ticket_type_id, "quantity": 2}],
        "buyer": BUYER,
        "payment": {"method": "cash", "tendered_minor": 2 * sale.price_minor + 500},
    }
    headers = {**tenant.auth, "Idempotency-Key": "counter-sale-1"}
    r = await client.post(URL, json=body, headers=headers)
    assert r.status_code == 201, r.text
    paid = r.json()
    assert paid["status"] == "paid" and paid["paid_minor"] == paid["total_minor"] == 2 * sale.price_minor
    assert all(line["ticket"] and line["ticket"]["status"] == "valid" for line in paid["lines"])
    assert await _counts(client, tenant, sale.session_id) == (0, 2, 8)

    again = await client.post(URL, json=body, headers=headers)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == paid["id"]
    assert await _counts(client, tenant, sale.session_id) == (0, 2, 8)
    assert await _orders(runtime) == 1

    reused = await client.post(URL, json={**body, "buyer": {**BUYER, "name": "李四"}}, headers=headers)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"


async def test_a_refused_sale_holds_and_writes_nothing(runtime, client, tenant):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=3)
    item = {"ticket_type_id": sale.ticket_type_id, "quantity": 2}
    too_little = {"items": [item], "buyer": BUYER, "payment": {"method": "cash", "tendered_minor": 1}}
    r = await client.post(URL, json=too_little, headers=tenant.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "tendered_minor", r.text
    too_many = {"items": [{**item, "quantity": 4}], "buyer": BUYER}
    r = await client.post(URL, json=too_many, headers=tenant.auth)
    assert r.status_code == 409 and r.json()["code"] == "sold_out", r.text
    assert await _counts(client, tenant, sale.session_id) == (0, 0, 3)
    assert await _orders(runtime) == 0
    # card terminal, no amount tendered: sold
    r = await client.post(
        URL, json={"items": [item], "buyer": BUYER, "payment": {"method": "card_terminal"}}, headers=tenant.auth
    )
    assert r.status_code == 201 and r.json()["status"] == "paid", r.text
    assert await _counts(client, tenant, sale.session_id) == (0, 2, 1)
