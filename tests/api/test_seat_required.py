"""A session with a seat map sells seats only: general admission (the counted item shape, or
``{"product": "admission", …}``) of one of its ticket types is refused with ``seat_required`` on every door —
the staff API, the shop API, the box office API and page — with nothing held (SQLite, PostgreSQL). A general-
admission session and the seated session's seats still sell."""

from __future__ import annotations

from sqlalchemy import func, select

from piaowu.inventory import service as inventory
from piaowu.orders.models import Order
from tests.order_helpers import BUYER
from tests.seating_world import SeatingWorld, seating_world
from tests.web.helpers import hidden, post_form, sign_in

COUNTED = "counted"
ADMISSION = "admission"


def admission_item(shape: str, tt: str, quantity: int = 2) -> dict:
    if shape == COUNTED:
        return {"ticket_type_id": tt, "quantity": quantity}
    return {"product": "admission", "selection": {"ticket_type_id": tt, "quantity": quantity}}


async def nothing_held(rt, world: SeatingWorld) -> None:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        counts = (await inventory.counts(uow, world.organizer_id, [world.pool_id]))[world.pool_id]
        orders = (await uow.session.execute(select(func.count()).select_from(Order))).scalar_one()
    assert (counts.held, counts.sold, orders) == (0, 0, 0)


def field_of(shape: str, index: int = 0) -> str:
    return f"items.{index}.ticket_type_id" if shape == COUNTED else f"items.{index}.selection.ticket_type_id"


def assert_seat_required(r, world: SeatingWorld, field: str = "items.0.ticket_type_id") -> None:  # noqa: ANN001
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "seat_required"
    assert body["ticket_type_id"] == world.adult_id and body["session_id"] == world.session_id
    assert body["field"] == field
    assert '(product "seat")' in body["title"] or '（商品类型 "seat"）' in body["title"]


async def test_the_staff_api_refuses_admission_of_a_seated_session(runtime, client):
    world = await seating_world(runtime)
    for shape in (COUNTED, ADMISSION):
        r = await client.post(
            "/api/v1/orders",
            json={"items": [admission_item(shape, world.adult_id)], "buyer": BUYER},
            headers=world.auth,
        )
        assert_seat_required(r, world, field_of(shape))
    # The seated item among good ones: the whole order is refused, its place named.
    seat = {"product": "seat", "selection": {"ticket_type_id": world.student_id, "seats": [world.seat("A", "1", "1")]}}
    r = await client.post(
        "/api/v1/orders",
        json={"items": [seat, admission_item(COUNTED, world.adult_id, 1)], "buyer": BUYER},
        headers={**world.auth, "Idempotency-Key": "mixed-1"},
    )
    assert_seat_required(r, world, "items.1.ticket_type_id")
    await nothing_held(runtime, world)
    # Seats of the same session still sell.
    r = await client.post("/api/v1/orders", json={"items": [seat], "buyer": BUYER}, headers=world.auth)
    assert r.status_code == 201, r.text


async def test_the_shop_api_refuses_admission_of_a_seated_session(runtime, client):
    world = await seating_world(runtime)
    for shape in (COUNTED, ADMISSION):
        r = await client.post(
            "/api/v1/shop/seat-theatre/orders", json={"items": [admission_item(shape, world.adult_id)], "buyer": BUYER}
        )
        assert_seat_required(r, world, field_of(shape))
    r = await client.post(
        "/api/v1/shop/seat-theatre/orders?lang=zh-CN",
        json={"items": [admission_item(COUNTED, world.adult_id)], "buyer": BUYER},
        headers={"Accept-Language": "zh-CN"},
    )
    assert r.status_code == 422 and r.json()["code"] == "seat_required"
    assert "选座" in r.json()["title"], r.text
    await nothing_held(runtime, world)


async def test_the_box_office_api_refuses_admission_of_a_seated_session(runtime, client):
    world = await seating_world(runtime)
    for shape in (COUNTED, ADMISSION):
        body = {
            "items": [admission_item(shape, world.adult_id)],
            "buyer": BUYER,
            "payment": {"method": "cash", "tendered_minor": 10_000_000},
        }
        r = await client.post("/api/v1/box-office/sales", json=body, headers=world.auth)
        assert_seat_required(r, world, field_of(shape))
    await nothing_held(runtime, world)


async def test_the_box_office_page_says_so_and_sells_nothing(runtime, client):
    world = await seating_world(runtime)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    page = await client.get(f"/manage/sell?session={world.session_id}&lang=en")
    assert page.status_code == 200
    assert "data-seat-picker" in page.text  # the seat map instead of quantities
    assert f'name="qty_{world.adult_id}"' not in page.text  # no counted input for a seated session's types
    # A form posted anyway (an old page, a forged post) is refused inline, nothing is sold.
    r = await post_form(
        client,
        "/manage/sell?lang=en",
        {
            "session": world.session_id,
            f"qty_{world.adult_id}": "2",
            "buyer_name": "张三",
            "buyer_phone": "13812345678",
            "method": "card_terminal",
        },
    )
    assert r.status_code == 422
    assert "This session sells assigned seats: choose seats" in r.text and 'id="error-summary"' in r.text
    await nothing_held(runtime, world)


async def test_the_shop_page_says_so_inline_and_sells_nothing(runtime, client):
    """The shop's counted form posted for a seated session (an old page; the seat picker posts seats): the page
    reads seats only, so it asks for seats, in the buyer's language, and nothing is held."""
    world = await seating_world(runtime)
    url = f"/s/seat-theatre/sessions/{world.session_id}"
    page = await client.get(url)
    assert page.status_code == 200
    data = {
        **hidden(page.text),
        f"qty_{world.adult_id}": "2",
        "buyer_name": "张三",
        "buyer_phone": "13812345678",
        "buyer_email": "zhang@example.com",
    }
    r = await client.post(url, data=data)
    assert r.status_code == 422, r.text
    assert "请至少选择一个座位" in r.text
    await nothing_held(runtime, world)
