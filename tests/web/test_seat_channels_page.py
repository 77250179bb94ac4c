"""The session seating page publishes and withholds seats per sales channel (picked on the map, refusals inline),
shows the seats published and free per channel — live in ``seating.json`` —, and the box office cannot sell a
seat withheld from it."""

from __future__ import annotations

import html
import json
import re

import httpx

from piaowu.runtime import Runtime
from piaowu.seating import channels as seat_channels
from tests.order_helpers import BUYER
from tests.seating_world import seating_world
from tests.web.helpers import csrf_of, hidden, sign_in


def _channel_row(page: str, channel: str) -> tuple[int, int]:
    row = re.search(rf'<tr data-channel="{channel}">(.*?)</tr>', page, re.S)
    assert row, f"no row of {channel}"
    published = re.search(r'data-k="published">(\d+)<', row[1])
    free = re.search(r'data-k="free">(\d+)<', row[1])
    assert published and free
    return int(published[1]), int(free[1])


async def test_withhold_and_publish_seats_from_the_seating_page(client: httpx.AsyncClient, runtime: Runtime) -> None:
    world = await seating_world(runtime)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    url = f"/manage/sessions/{world.session_id}/seating"
    page = await client.get(url + "?lang=en")
    assert page.status_code == 200 and "Seats published per sales channel" in page.text
    assert _channel_row(page.text, "box_office") == (60, 60)
    csrf = csrf_of(page.text)
    two = [world.seat("A", "1", "1"), world.seat("A", "1", "2")]

    kept = await client.post(url + "/seats", data={"csrf": csrf, "seat": two, "action": "withhold", "channel": "web"})
    assert kept.status_code == 303, kept.text
    page = await client.get(url + "?lang=en")
    assert _channel_row(page.text, "web") == (58, 58) and _channel_row(page.text, "api") == (60, 60)
    assert "2 seats withheld from Online shop." in page.text
    seats = json.loads(html.unescape(re.search(r'data-seats="([^"]*)"', page.text)[1]))
    assert [s[9] for s in seats[:3]] == [["web"], ["web"], []]
    live = (await client.get(url + ".json")).json()
    assert live["channels"][0] == {"channel": "web", "published": 58, "free": 58}

    # A seat an unpaid web order holds is not withheld from the web: said inline with its label.
    held = world.seat("A", "2", "1")
    r = await client.post(
        "/api/v1/shop/seat-theatre/orders",
        json={"items": [{"product": "seat", "selection": {"ticket_type_id": world.adult_id, "seats": [held]}}],
                "buyer": BUYER},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    refused = await client.post(
        url + "/seats?lang=en", data={"csrf": csrf, "seat": [held], "action": "withhold", "channel": "web"}
    )
    assert refused.status_code == 409 and "held by an unpaid order of this channel: A 2-1" in refused.text
    unknown = await client.post(
        url + "/seats?lang=en", data={"csrf": csrf, "seat": two, "action": "publish", "channel": "kiosk"}
    )
    assert unknown.status_code == 409 and "Choose a sales channel" in unknown.text
    none = await client.post(url + "/seats?lang=en", data={"csrf": csrf, "action": "publish", "channel": "web"})
    assert none.status_code == 409 and "Choose seats on the map first." in none.text

    back = await client.post(
        url + "/seats", data={"csrf": csrf, "seat": two[:1], "action": "publish", "channel": "web"}
    )
    assert back.status_code == 303
    assert (await client.get(url + ".json")).json()["channels"][0] == {"channel": "web", "published": 59, "free": 58}
    zh = await client.get(url + "?lang=zh-CN")
    assert "各销售渠道开放的座位" in zh.text and "网上商城" in zh.text


async def test_the_box_office_cannot_sell_a_seat_withheld_from_it(client: httpx.AsyncClient, runtime: Runtime) -> None:
    world = await seating_world(runtime)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    url = f"/manage/sessions/{world.session_id}/seating"
    csrf = csrf_of((await client.get(url)).text)
    web_only = world.seat("A", "1", "5")
    r = await client.post(url + "/seats", data={"csrf": csrf, "seat": [web_only], "action": "withhold",
                                               "channel": "box_office"})  # fmt: skip
    assert r.status_code == 303, r.text
    page = await client.get(f"/manage/sell?session={world.session_id}&lang=en")
    assert 'data-channel="box_office"' in page.text
    sale = {
        "csrf": csrf_of(page.text),
        "session": world.session_id,
        "seated": "1",
        "seat": [web_only],
        f"tt.{web_only}": world.adult_id,
        "buyer_name": "王五",
        "buyer_phone": "13812345678",
        "method": "cash",
        "tendered": "1000",
    }
    refused = await client.post("/manage/sell?lang=en", data=sale)
    assert refused.status_code == 422 and "not on sale at the box office: A 1-5" in refused.text
    other = world.seat("A", "1", "6")
    sold = await client.post("/manage/sell?lang=en", data={**sale, "seat": [other], f"tt.{other}": world.adult_id})
    assert sold.status_code == 303, sold.text


async def test_the_shop_page_says_a_seat_withheld_from_the_web_is_not_for_sale(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    world = await seating_world(runtime)
    seat = world.seat("A", "1", "3")
    async with runtime.uow() as uow:
        await seat_channels.set_published(uow, world.actor, world.session_id, [seat], "web", publish=False)
        await uow.commit()
    url = f"/s/{world.tenant.slug}/sessions/{world.session_id}"
    page = await client.get(url)
    buyer = {"buyer_name": "李四", "buyer_phone": "139 1234 5678", "buyer_email": ""}
    r = await client.post(url, data={**hidden(page.text), "seats": f"{seat}:{world.adult_id}", **buyer})
    assert r.status_code == 409
    assert "不出售：A区1排3座" in r.text and f'data-refused="{seat}"' in r.text
