"""The shop's session page for a seated session, through HTTP (the script's part is in
tests/e2e/test_seat_picker_browser.py): the picker instead of quantity steppers, the general-admission page
unchanged, the chosen seats ("seat_id:ticket_type_id,…") bought as "seat" items at their zone prices, and every
refusal said inline on the page — a seat just taken named seat by seat, nothing held for the refused order."""

from __future__ import annotations

import re

import httpx

from piaowu.orders import service as orders
from piaowu.runtime import Runtime
from tests.conftest import Tenant
from tests.factories import on_sale_session, owner_actor
from tests.seating_world import PRICES, SeatingWorld, seating_world
from tests.web.helpers import hidden

BUYER = {"buyer_name": "李四", "buyer_phone": "139 1234 5678", "buyer_email": ""}


def page_url(world: SeatingWorld) -> str:
    return f"/s/{world.tenant.slug}/sessions/{world.session_id}"


async def post_seats(client: httpx.AsyncClient, world: SeatingWorld, seats: str, **extra: str) -> httpx.Response:
    page = await client.get(page_url(world))
    assert page.status_code == 200, page.text
    return await client.post(page_url(world), data={**hidden(page.text), "seats": seats, **BUYER, **extra})


async def orders_of(rt: Runtime, world: SeatingWorld) -> list:  # noqa: ANN001
    actor = await owner_actor(rt, world.tenant.owner_id)
    async with rt.uow(readonly=True) as uow:
        return list((await orders.list_orders(uow, actor)).items)


def field_error(html: str) -> str:
    found = re.search(r'<p class="field-error" id="tickets-error">([^<]*)</p>', html)
    assert found, "no inline error on the seats"
    return found.group(1)


async def test_a_seated_session_shows_the_picker_and_a_general_admission_one_does_not(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    world = await seating_world(runtime, max_per_order=6)
    page = (await client.get(page_url(world))).text
    slug, sid = world.tenant.slug, world.session_id
    assert "data-seatmap" in page and '<script src="/static/seatmap.js" defer>' in page
    assert f'data-map-url="/api/v1/shop/{slug}/sessions/{sid}/seat-map"' in page
    assert f'data-availability-url="/api/v1/shop/{slug}/sessions/{sid}/seat-availability"' in page
    assert f'data-best-url="/api/v1/shop/{slug}/sessions/{sid}/best-available"' in page
    assert 'data-max="6"' in page  # the order limit the map enforces
    assert 'name="seats" id="seats-input"' in page
    assert 'name="qty_' not in page  # no quantity steppers for seats
    assert "选择座位" in page and "智能选座" in page  # zh-CN by default
    assert "{section}{row}排{number}座" in page  # the script's texts come translated from the page
    en = (await client.get(page_url(world) + "?lang=en")).text
    assert "Choose your seats" in en and "{section}, row {row}, seat {number}" in en

    actor = await owner_actor(runtime, tenant.owner_id)
    ga = await on_sale_session(runtime, actor, capacity=10, max_per_order=4)
    plain = (await client.get(f"/s/{tenant.slug}/sessions/{ga.session_id}")).text
    assert "seatmap" not in plain and f'name="qty_{ga.ticket_type_id}"' in plain


async def test_chosen_seats_are_bought_at_their_zone_prices_per_ticket_type(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    world = await seating_world(runtime)
    a, b, c = world.seat("A", "1", "5"), world.seat("A", "1", "6"), world.seat("B", "2", "3")
    r = await post_seats(client, world, f"{a}:{world.adult_id},{b}:{world.student_id},{c}:{world.adult_id}")
    assert r.status_code == 303, r.text
    order_page = await client.get(r.headers["location"])
    assert order_page.status_code == 200
    for label in ("A区1排5座", "A区1排6座", "B区2排3座"):  # the review page names every seat before payment
        assert f"<li>{label}</li>" in order_page.text
    (summary,) = await orders_of(runtime, world)
    actor = await owner_actor(runtime, world.tenant.owner_id)
    async with runtime.uow(readonly=True) as uow:
        order = await orders.get_order(uow, actor, summary.id)
    assert order.total_minor == PRICES["A"][0] + PRICES["A"][1] + PRICES["B"][0]
    seats = sorted((ln.seat.section, ln.seat.row, ln.seat.number) for ln in order.lines if ln.seat)
    assert seats == [("A", "1", "5"), ("A", "1", "6"), ("B", "2", "3")]


async def test_a_seat_just_taken_is_named_inline_and_nothing_is_held(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    world = await seating_world(runtime)
    taken, mine = world.seat("A", "2", "4"), world.seat("A", "2", "5")
    assert (await post_seats(client, world, f"{taken}:{world.adult_id}")).status_code == 303

    r = await post_seats(client, world, f"{mine}:{world.adult_id},{taken}:{world.adult_id}")
    assert r.status_code == 409
    message = field_error(r.text)
    assert "A区2排4座" in message and "A区2排5座" not in message  # the one taken, by its printed label
    assert f'data-refused="{taken}"' in r.text  # the map drops it from the buyer's choice
    assert f'value="{mine}:{world.adult_id},{taken}:{world.adult_id}"' in r.text  # the rest is kept
    assert "李四" in r.text  # what was typed stays
    assert len(await orders_of(runtime, world)) == 1  # the refused order holds nothing …
    again = await post_seats(client, world, f"{mine}:{world.student_id}")
    assert again.status_code == 303  # … its other seat is still for sale

    en = await post_seats(client, world, f"{taken}:{world.adult_id}", lang="en")
    assert en.status_code == 409


async def test_the_taken_seat_message_in_english(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await seating_world(runtime)
    seat = world.seat("B", "3", "7")
    await client.get("/?lang=en")
    assert (await post_seats(client, world, f"{seat}:{world.adult_id}")).status_code == 303
    r = await post_seats(client, world, f"{seat}:{world.student_id}")
    assert r.status_code == 409
    assert "Just taken by another buyer: B区, row 3, seat 7." in field_error(r.text)


async def test_bad_seat_choices_are_refused_inline(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await seating_world(runtime, max_per_order=2, blocked=[("A", "1", "1")])
    seat = world.seat("A", "3", "3")
    cases = {
        "": (422, "请至少选择一个座位"),
        f"{seat}:not-a-type": (422, "无法读取您的选座"),
        f"{seat}": (422, "无法读取您的选座"),
        f"{seat}:{world.adult_id},{seat}:{world.adult_id}": (422, "选了两次：A区3排3座"),
        f"no-such-seat:{world.adult_id}": (422, "不属于本场次"),
        f"{world.seat('A', '1', '1')}:{world.adult_id}": (409, "不出售：A区1排1座"),  # kept back by the house
        ",".join(f"{s}:{world.adult_id}" for s in world.zone_seats("B")[:3]): (422, "1 到 2 张"),  # limit of 2
    }
    for value, (status, text) in cases.items():
        r = await post_seats(client, world, value)
        assert r.status_code == status, (value, r.status_code)
        assert text in field_error(r.text), (value, field_error(r.text))
        assert "data-seatmap" in r.text  # the picker again, not an error page
    assert await orders_of(runtime, world) == []
