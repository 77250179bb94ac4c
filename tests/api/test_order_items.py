"""Order items through the API, old and new shape: ``{ticket_type_id, quantity}`` as always, and
``{product, selection, holders}``; both in one order; staff API, shop API and box-office sale alike. A wrong
product or selection is a problem+json 422 with a stable code, and nothing is held or written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from piaowu.orders.models import Order, OrderLine, OrderLineHolding
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import BUYER

PROBLEM = "application/problem+json"


def selected(tt: str, qty: int, holders: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"product": "admission", "selection": {"ticket_type_id": tt, "quantity": qty}, **extra}
    if holders is not None:
        item["holders"] = [{"name": h} for h in holders]
    return item


def _fill(value: Any, tt: str) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, tt) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, tt) for v in value]
    return tt if value == "{tt}" else value


async def _held(client, tenant, session_id) -> tuple[int, int]:  # noqa: ANN001
    s = (await client.get(f"/api/v1/sessions/{session_id}", headers=tenant.auth)).json()
    return s["held"], s["sold"]


async def _rows(rt) -> tuple[int, int, int]:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        s = uow.session
        return tuple(
            [
                (await s.execute(select(func.count()).select_from(t))).scalar_one()
                for t in (Order, OrderLine, OrderLineHolding)
            ]
        )  # type: ignore[return-value]


async def _holder_names(rt, order_id: str) -> list[str]:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        q = select(OrderLine.holder_name).where(OrderLine.order_id == order_id).order_by(OrderLine.id)
        return list((await uow.session.execute(q)).scalars())


async def test_the_selected_shape_sells_like_the_counted_one_and_stores_holders(runtime, client, tenant):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=10, second_type=True)
    body = {"items": [selected(sale.ticket_type_id, 2, ["王五", "赵六"])], "buyer": BUYER}
    r = await client.post("/api/v1/orders", json=body, headers=tenant.auth)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["total_minor"] == 2 * sale.price_minor and len(order["lines"]) == 2
    assert await _holder_names(runtime, order["id"]) == ["王五", "赵六"]
    assert await _held(client, tenant, sale.session_id) == (2, 0)
    assert [line["holder_name"] for line in order["lines"]] == ["王五", "赵六"]  # the answer says so too
    again = (await client.get(f"/api/v1/orders/{order['id']}", headers=tenant.auth)).json()
    assert sorted(line["holder_name"] for line in again["lines"]) == ["王五", "赵六"]

    # Both shapes in one order; holders are optional.
    mixed = {
        "items": [
            {"ticket_type_id": sale.ticket_type_id, "quantity": 1},
            selected(sale.other_ticket_type_id, 2),
        ],
        "buyer": BUYER,
    }
    r = await client.post("/api/v1/orders", json=mixed, headers=tenant.auth)
    assert r.status_code == 201, r.text
    lines = r.json()["lines"]
    assert [line["ticket_type_id"] for line in lines] == [sale.ticket_type_id] + [sale.other_ticket_type_id] * 2
    assert await _holder_names(runtime, r.json()["id"]) == ["", "", ""]
    assert await _held(client, tenant, sale.session_id) == (5, 0)


async def test_the_shop_and_the_box_office_take_the_selected_shape_too(runtime, client, tenant):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=10)
    shop = await client.post(
        f"/api/v1/shop/{tenant.slug}/orders",
        json={"items": [selected(sale.ticket_type_id, 1, ["王五"])], "buyer": BUYER},
    )
    assert shop.status_code == 201, shop.text
    assert await _holder_names(runtime, shop.json()["id"]) == ["王五"]
    counter = await client.post(
        "/api/v1/box-office/sales",
        json={"items": [selected(sale.ticket_type_id, 2)], "buyer": BUYER, "payment": {"method": "cash"}},
        headers=tenant.auth,
    )
    assert counter.status_code == 201, counter.text
    assert counter.json()["status"] == "paid" and len(counter.json()["lines"]) == 2
    assert await _held(client, tenant, sale.session_id) == (1, 2)


@pytest.mark.parametrize(
    ("name", "item", "code", "fields"),
    [
        ("unknown product", {"product": "seat_map", "selection": {"seats": ["A1"]}}, "unknown_product", ()),
        ("selection missing its quantity", {"product": "admission", "selection": {"ticket_type_id": "{tt}"}},
         "validation_error", ("items.0.selection.quantity",)),
        ("selection with a price", selected("{tt}", 1, price_minor=1), "validation_error", ("items.0.price_minor",)),
        ("quantity true in a selection", {"product": "admission", "selection": {"ticket_type_id": "{tt}",
         "quantity": True}}, "validation_error", ("items.0.selection.quantity",)),
        ("unknown ticket type in a selection", selected("nope", 1), "validation_error",
         ("items.0.selection.ticket_type_id",)),
        ("two holders for one ticket", selected("{tt}", 1, ["甲", "乙"]), "validation_error", ("items.0.holders",)),
        ("blank holder name", selected("{tt}", 1, [" "]), "validation_error", ("items.0.holders.0.name",)),
        ("selection not an object", {"product": "admission", "selection": [1]}, "validation_error",
         ("items.0.selection",)),
        ("counted shape without quantity", {"ticket_type_id": "{tt}"}, "validation_error", ("items.0.quantity",)),
        ("both shapes in one item", {**selected("{tt}", 1), "quantity": 1}, "validation_error",
         ("items.0.quantity",)),
    ],
)  # fmt: skip
async def test_a_wrong_product_or_selection_is_a_422_and_writes_nothing(
    runtime, client, tenant, name, item, code, fields
):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=10)
    before = await _rows(runtime)
    # The item under test is items.0; a valid item follows, and is not sold either (all or nothing).
    body = {"items": [_fill(item, sale.ticket_type_id), {"ticket_type_id": sale.ticket_type_id, "quantity": 1}]}
    body["buyer"] = BUYER
    r = await client.post("/api/v1/orders", json=body, headers=tenant.auth)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    problem = r.json()
    assert problem["code"] == code
    if fields:
        assert [e["field"] for e in problem["errors"]] == list(fields)
    else:
        assert problem["product"] == "seat_map" and problem["field"] == "items.0.product"
    assert await _rows(runtime) == before and await _held(client, tenant, sale.session_id) == (0, 0)
