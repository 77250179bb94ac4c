"""Back-office seat maps through HTTP: a venue's layouts, the map editor (generate with preview, edits, import
with errors line by line and nothing half-imported, export) and a session's seating page (layout, zone prices,
seats kept back and released, refusals inline)."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import httpx

from piaowu.inventory import service as inventory
from piaowu.inventory.rules import Claim, Take
from piaowu.runtime import Runtime
from piaowu.seating import layout_service, session_seating
from tests.seating_world import seating_world
from tests.web.helpers import csrf_of, sign_in


def _doc(page: str) -> dict:
    raw = re.search(r'data-doc="([^"]*)"', page)
    assert raw, "no map on the page"
    return json.loads(html.unescape(raw[1]))


async def _new_layout(client: httpx.AsyncClient, venue_id: str, name: str = "演唱会 Concert") -> tuple[str, str]:
    listing = await client.get(f"/manage/venues/{venue_id}/layouts")
    assert listing.status_code == 200, listing.text
    r = await client.post(
        f"/manage/venues/{venue_id}/layouts", data={"csrf": csrf_of(listing.text), "name": name}, files={}
    )
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    return url, url.rsplit("/", 1)[1]


def _section_form(csrf: str, **over: str) -> dict[str, str]:
    form = {
        "csrf": csrf,
        "version": "1",
        "kind": "rect",
        "section_id": "A",
        "label": "",
        "zone": "A",
        "rows": "3",
        "seats_per_row": "8",
        "first_row": "1",
        "row_labels": "numbers",
        "numbering": "left_to_right",
        "seat_spacing": "50",
        "row_spacing": "90",
        "origin_x": "0",
        "origin_y": "0",
        "aisles_after": "4",
        "aisle_width": "100",
        "radius": "800",
        "angle_span": "90",
        "direction": "0",
        "centre_x": "0",
        "centre_y": "0",
        "action": "add",
    }
    form.update(over)
    return form


async def test_build_a_map_preview_add_edit_and_export(client: httpx.AsyncClient, runtime: Runtime) -> None:
    world = await seating_world(runtime)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    url, layout_id = await _new_layout(client, world.venue_id)
    editor = await client.get(url + "?lang=en")
    assert editor.status_code == 200 and _doc(editor.text)["seats"] == []
    csrf = csrf_of(editor.text)

    # Preview draws the section without saving it.
    preview = await client.post(url + "/sections?lang=en", data=_section_form(csrf, action="preview"))
    assert preview.status_code == 200 and "Preview: 24 seats" in preview.text
    assert _doc(preview.text)["seats"] == []
    # Bad parameters: every bad field named, nothing saved.
    bad = await client.post(url + "/sections?lang=en", data=_section_form(csrf, rows="0", seat_spacing="x"))
    assert bad.status_code == 422
    assert 'id="f-rows-error"' in bad.text and 'id="f-seat_spacing-error"' in bad.text
    added = await client.post(url + "/sections", data=_section_form(csrf))
    assert added.status_code == 303, added.text
    arc = await client.post(
        url + "/sections",
        data=_section_form(csrf, version="2", kind="arc", section_id="B", zone="B", rows="2", centre_y="400"),
    )
    assert arc.status_code == 303, arc.text
    doc = _doc((await client.get(url)).text)
    assert {s["section"] for s in doc["seats"]} == {"A", "B"}
    assert [s["kind"] for s in doc["sections"]] == ["rect", "arc"]
    a_count = sum(1 for s in doc["seats"] if s["section"] == "A")
    assert a_count == 24

    # Edits: move one seat, zone and attributes, block another, delete a third, renumber a row's end.
    page = await client.get(url)
    ops = [
        {"op": "move", "seats": [["A", "1", "1"]], "dx": -30, "dy": 0},
        {"op": "set_zone", "seats": [["A", "1", "1"]], "zone": "VIP"},
        {"op": "set_attributes", "seats": [["A", "1", "1"]], "attributes": ["wheelchair"]},
        {"op": "set_attributes", "seats": [["A", "1", "2"]], "attributes": ["restricted_view"]},
        {"op": "block", "seats": [["A", "1", "2"]], "reason": "press"},
        {"op": "delete", "seats": [["A", "3", "8"]]},
        {"op": "relabel", "seat": ["A", "3", "7"], "number": "8"},
    ]
    saved = await client.post(url + "/save", data={"csrf": csrf_of(page.text), "version": "3", "ops": json.dumps(ops)})
    assert saved.status_code == 303, saved.text
    seats = {(s["section"], s["row"], s["number"]): s for s in _doc((await client.get(url)).text)["seats"]}
    assert seats[("A", "1", "1")]["x"] == -30 and seats[("A", "1", "1")]["zone"] == "VIP"
    assert seats[("A", "1", "1")]["attributes"] == ["wheelchair"]
    assert seats[("A", "1", "2")]["blocked"] == "press"
    assert ("A", "3", "7") not in seats and seats[("A", "3", "8")]["x"] == 400

    # A seat moved onto another: refused, both seats named, nothing saved.
    clash = [{"op": "move", "seats": [["A", "2", "3"]], "dx": -50, "dy": 0}]
    page = await client.get(url + "?lang=en")
    refused = await client.post(
        url + "/save?lang=en", data={"csrf": csrf_of(page.text), "version": "4", "ops": json.dumps(clash)}
    )
    assert refused.status_code == 422
    assert 'id="map-problems"' in refused.text and "A 2-3" in refused.text and "A 2-2" in refused.text
    assert _doc(refused.text)["seats"] == _doc(page.text)["seats"]
    # A save from a stale copy (version 3) is refused too.
    stale = await client.post(
        url + "/save?lang=en",
        data={
            "csrf": csrf_of(page.text),
            "version": "3",
            "ops": json.dumps([{"op": "unblock", "seats": [["A", "1", "2"]]}]),
        },
    )
    assert stale.status_code == 422 and "changed by someone else" in stale.text

    exported = await client.get(url + "/export.csv")
    assert exported.status_code == 200 and exported.text.startswith("section,row,number,x,y,zone,attributes")
    assert "attachment" in exported.headers["content-disposition"]
    as_json = await client.get(url + "/export.json")
    assert json.loads(as_json.text)["version"] == 1
    async with runtime.uow(readonly=True) as uow:
        layout = await layout_service.get_layout(uow, world.actor, layout_id)
    assert layout.seat_count == len(seats)


async def test_an_import_with_bad_lines_lists_them_and_keeps_the_old_map(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    world = await seating_world(runtime)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    url, layout_id = await _new_layout(client, world.venue_id)
    page = await client.get(url)
    good = "section,row,number,x,y,zone,attributes\nA,1,1,0,0,A,\nA,1,2,50,0,A,wheelchair\n"
    r = await client.post(
        url + "/import", data={"csrf": csrf_of(page.text), "version": "1"}, files={"file": ("map.csv", good)}
    )
    assert r.status_code == 303, r.text
    bad = (
        "section,row,number,x,y,zone,attributes\n"
        "A,1,1,0,0,A,\n"
        "A,1,1,100,0,A,\n"  # line 3: the same label again
        "A,1,3,100.5,0,A,\n"  # line 4: on top of line 3's seat
        "A,1,4,200,0,A,sofa\n"  # line 5: no such attribute
    )
    page = await client.get(url + "?lang=en")
    r = await client.post(
        url + "/import?lang=en", data={"csrf": csrf_of(page.text), "version": "2"}, files={"file": ("map.csv", bad)}
    )
    assert r.status_code == 422
    for line in ("Line 3", "Line 4", "Line 5"):
        assert line in r.text, line
    assert "nothing was saved" in r.text
    doc = _doc(r.text)
    assert len(doc["seats"]) == 2 and doc["seats"][1]["attributes"] == ["wheelchair"]
    # A new layout from a bad file is not created at all.
    listing = await client.get(f"/manage/venues/{world.venue_id}/layouts?lang=en")
    r = await client.post(
        f"/manage/venues/{world.venue_id}/layouts?lang=en",
        data={"csrf": csrf_of(listing.text), "name": "Bad"},
        files={"file": ("bad.csv", bad)},
    )
    assert r.status_code == 422 and "Line 5" in r.text
    async with runtime.uow(readonly=True) as uow:
        names = [lay.name for lay in await layout_service.list_layouts(uow, world.actor, world.venue_id)]
    assert "Bad" not in names


async def test_delete_only_an_unused_layout(client: httpx.AsyncClient, runtime: Runtime) -> None:
    world = await seating_world(runtime)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    _url, layout_id = await _new_layout(client, world.venue_id, "Spare")
    listing = await client.get(f"/manage/venues/{world.venue_id}/layouts?lang=en")
    used = await client.post(
        f"/manage/venues/{world.venue_id}/layouts/{world.layout_id}/delete?lang=en",
        data={"csrf": csrf_of(listing.text)},
    )
    assert used.status_code == 409 and "cannot be deleted" in used.text
    gone = await client.post(
        f"/manage/venues/{world.venue_id}/layouts/{layout_id}/delete", data={"csrf": csrf_of(listing.text)}
    )
    assert gone.status_code == 303
    async with runtime.uow(readonly=True) as uow:
        ids = [lay.id for lay in await layout_service.list_layouts(uow, world.actor, world.venue_id)]
    assert ids == [world.layout_id]


async def test_another_organizers_layout_is_not_found(
    client: httpx.AsyncClient, runtime: Runtime, other_tenant
) -> None:  # noqa: ANN001
    world = await seating_world(runtime)
    await sign_in(client, other_tenant.owner_email, other_tenant.password)
    base = f"/manage/venues/{world.venue_id}/layouts"
    assert (await client.get(base)).status_code == 404
    assert (await client.get(f"{base}/{world.layout_id}")).status_code == 404
    assert (await client.get(f"{base}/{world.layout_id}/export.csv")).status_code == 404
    assert (await client.get(f"/manage/sessions/{world.session_id}/seating")).status_code == 404


async def test_session_seating_prices_blocks_and_a_locked_layout(client: httpx.AsyncClient, runtime: Runtime) -> None:
    world = await seating_world(runtime)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    url = f"/manage/sessions/{world.session_id}/seating"
    page = await client.get(url + "?lang=en")
    assert page.status_code == 200
    assert 'value="880"' in page.text and 'value="380"' in page.text
    csrf = csrf_of(page.text)

    # Prices: a bad cell is named inline; a good grid replaces the prices.
    cells = {
        f"price.0.{world.adult_id}": "900",
        f"price.0.{world.student_id}": "abc",
        f"price.1.{world.adult_id}": "500",
    }
    bad = await client.post(url + "/prices?lang=en", data={"csrf": csrf, **cells})
    assert bad.status_code == 422 and f'id="f-price.0.{world.student_id}-error"' in bad.text
    cells[f"price.0.{world.student_id}"] = "700.50"
    ok = await client.post(url + "/prices", data={"csrf": csrf, **cells})
    assert ok.status_code == 303, ok.text
    async with runtime.uow(readonly=True) as uow:
        prices = {
            (p.zone, p.ticket_type_id): p.price_minor
            for p in await session_seating.zone_prices(uow, world.organizer_id, world.session_id)
        }
    assert prices == {("A", world.adult_id): 90000, ("A", world.student_id): 70050, ("B", world.adult_id): 50000}

    # Keep two seats back (a reason is required), then release one.
    two = [world.seat("A", "1", "1"), world.seat("A", "1", "2")]
    no_reason = await client.post(
        url + "/seats?lang=en", data={"csrf": csrf, "seat": two, "action": "block", "reason": ""}
    )
    assert no_reason.status_code == 409 and "Say why" in no_reason.text
    kept = await client.post(url + "/seats", data={"csrf": csrf, "seat": two, "action": "block", "reason": "press"})
    assert kept.status_code == 303, kept.text
    live = (await client.get(url + ".json")).json()
    assert live["states"][:3] == "bbf" and live["zones"][0]["blocked"] == 2
    back = await client.post(url + "/seats", data={"csrf": csrf, "seat": two[:1], "action": "release", "reason": ""})
    assert back.status_code == 303
    assert (await client.get(url + ".json")).json()["states"][:3] == "fbf"
    foreign = await client.post(
        url + "/seats?lang=en", data={"csrf": csrf, "seat": ["nope"], "action": "block", "reason": "house"}
    )
    assert foreign.status_code == 409 and "not a seat of this session" in foreign.text

    # Once a seat is sold the layout can no longer change: said inline.
    async with runtime.uow() as uow:
        await inventory.reserve(
            uow,
            world.organizer_id,
            [Take(world.pool_id, 1)],
            expires_at=runtime.clock.now() + timedelta(minutes=15),
            claims=[Claim(world.seat("B", "1", "1"), 1)],
        )
        await uow.commit()
    locked = await client.post(url + "/layout?lang=en", data={"csrf": csrf, "layout_id": world.layout_id})
    assert locked.status_code == 409 and "can no longer change" in locked.text
    live = (await client.get(url + ".json")).json()
    assert live["states"][30] == "h"


async def test_the_box_office_sells_seats_picked_on_the_map(client: httpx.AsyncClient, runtime: Runtime) -> None:
    world = await seating_world(runtime)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    page = await client.get(f"/manage/sell?session={world.session_id}&lang=en")
    assert page.status_code == 200 and "data-seat-picker" in page.text and "¥880.00" in page.text
    a5, a6 = world.seat("A", "1", "5"), world.seat("A", "1", "6")
    sale = {
        "csrf": csrf_of(page.text),
        "session": world.session_id,
        "seated": "1",
        "seat": [a5, a6],
        f"tt.{a5}": world.adult_id,
        f"tt.{a6}": world.student_id,
        "buyer_name": "王五",
        "buyer_phone": "13812345678",
        "method": "cash",
        "tendered": "2000",
    }
    sold = await client.post("/manage/sell?lang=en", data=sale)
    assert sold.status_code == 303, sold.text
    order = await client.get(sold.headers["location"] + "?lang=en")
    assert "¥1,560.00" in order.text and "A" in order.text
    # The same seats again: refused, the seats named, nothing sold.
    again = await client.post(
        "/manage/sell?lang=en",
        data={**sale, "seat": [world.seat("A", "1", "7"), a6], f"tt.{world.seat('A', '1', '7')}": world.adult_id},
    )
    assert again.status_code == 422 and "These seats were just taken: A 1-6" in again.text
    live = (await client.get(f"/manage/sessions/{world.session_id}/seating.json")).json()
    assert live["states"][4:7] == "ssf"
    # A seat without a ticket type, and no seat at all, are said inline.
    no_type = await client.post("/manage/sell?lang=en", data={**sale, "seat": [world.seat("A", "2", "1")]})
    assert no_type.status_code == 422 and "Choose a ticket type for every seat." in no_type.text
    none = {k: v for k, v in sale.items() if k != "seat"}
    nothing = await client.post("/manage/sell?lang=en", data=none)
    assert nothing.status_code == 422 and "Choose seats on the map." in nothing.text


async def test_the_order_page_moves_a_ticket_to_another_seat(client: httpx.AsyncClient, runtime: Runtime) -> None:
    world = await seating_world(runtime)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    item = {"product": "seat", "selection": {"ticket_type_id": world.adult_id, "seats": [world.seat("A", "1", "5")]}}
    other = {"product": "seat", "selection": {"ticket_type_id": world.adult_id, "seats": [world.seat("A", "1", "6")]}}
    buyer = {"name": "王五", "phone": "13812345678"}
    sale = {"payment": {"method": "cash"}, "buyer": buyer}
    order = (await client.post("/api/v1/box-office/sales", json={"items": [item], **sale}, headers=world.auth)).json()
    await client.post("/api/v1/box-office/sales", json={"items": [other], **sale}, headers=world.auth)
    ticket = order["lines"][0]["ticket"]
    page = await client.get(f"/manage/orders/{order['id']}?lang=en")
    url = f"/manage/orders/{order['id']}/tickets/{ticket['id']}/exchange"
    assert "Seat A 1-5" in page.text and f'href="{url}"' in page.text
    form = await client.get(url + "?lang=en")
    assert form.status_code == 200 and world.seat("A", "1", "5") in form.text and "data-allowed-zones" in form.text
    csrf = csrf_of(form.text)
    taken = await client.post(url + "?lang=en", data={"csrf": csrf, "seat": [world.seat("A", "1", "6")]})
    assert taken.status_code == 409 and "just taken" in taken.text
    two = await client.post(
        url + "?lang=en", data={"csrf": csrf, "seat": [world.seat("A", "2", "1"), world.seat("A", "2", "2")]}
    )
    assert two.status_code == 422 and "Choose one seat" in two.text
    # Another price: nothing moves before the clerk saw and confirmed the difference (test below).
    cheaper = await client.post(url + "?lang=en", data={"csrf": csrf, "seat": [world.seat("B", "1", "1")]})
    assert cheaper.status_code == 200 and "Refund to the buyer: ¥400.00" in cheaper.text
    moved = await client.post(url + "?lang=en", data={"csrf": csrf, "seat": [world.seat("A", "2", "7")]})
    assert moved.status_code == 303, moved.text
    after = await client.get(f"/manage/orders/{order['id']}?lang=en")
    assert "Seat changed: A 1-5 → A 2-7" in after.text and "Seat A 2-7" in after.text
    assert "<strong>Seat changed</strong> A 1-5 → A 2-7" in after.text  # the order's history
    live = (await client.get(f"/manage/sessions/{world.session_id}/seating.json")).json()
    assert live["states"][4] == "f" and live["states"][16] == "s"


async def test_a_seat_at_another_price_shows_the_difference_before_it_is_confirmed(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    world = await seating_world(runtime)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    item = {"product": "seat", "selection": {"ticket_type_id": world.adult_id, "seats": [world.seat("B", "1", "5")]}}
    sale = {"payment": {"method": "cash"}, "buyer": {"name": "王五", "phone": "13812345678"}}
    order = (await client.post("/api/v1/box-office/sales", json={"items": [item], **sale}, headers=world.auth)).json()
    ticket = order["lines"][0]["ticket"]
    url = f"/manage/orders/{order['id']}/tickets/{ticket['id']}/exchange"
    form = await client.get(url + "?lang=en")
    assert "¥880.00" in form.text and "pay ¥400.00 more" in form.text  # each zone's price and difference
    csrf = csrf_of(form.text)
    a1 = world.seat("A", "1", "1")
    shown = await client.post(url + "?lang=en", data={"csrf": csrf, "seat": a1})
    assert shown.status_code == 200 and "Amount due from the buyer: ¥400.00" in shown.text
    assert 'name="difference" value="40000"' in shown.text and "Confirm the difference and change seat" in shown.text
    assert await live_seat(client, world, "A", 0) == "f"  # nothing moved yet
    zh = await client.post(url + "?lang=zh-CN", data={"csrf": csrf, "seat": a1})
    assert "购票人需补差价：¥400.00" in zh.text and "Amount due" not in zh.text
    short = await client.post(
        url + "?lang=en", data={"csrf": csrf, "seat": a1, "difference": "40000", "method": "cash", "tendered": "100"}
    )
    assert short.status_code == 409 and "less than the amount due" in short.text
    done = await client.post(
        url + "?lang=en", data={"csrf": csrf, "seat": a1, "difference": "40000", "method": "cash", "tendered": "500"}
    )
    assert done.status_code == 303, done.text
    after = await client.get(f"/manage/orders/{order['id']}?lang=en")
    assert "Seat changed: B 1-5 → A 1-1" in after.text and "Collected ¥400.00." in after.text
    assert "Change due: ¥100.00" in after.text
    assert await live_seat(client, world, "A", 0) == "s"

    # Back to a cheaper seat: the difference is refunded with a reason the system writes (in English, stored as
    # written); the order page reads it in the page's language.
    now = (await client.get(f"/api/v1/orders/{order['id']}", headers=world.auth)).json()
    back = f"/manage/orders/{order['id']}/tickets/{now['lines'][0]['ticket']['id']}/exchange"
    csrf = csrf_of((await client.get(back + "?lang=en")).text)
    b6 = world.seat("B", "1", "6")
    done = await client.post(back, data={"csrf": csrf, "seat": b6, "difference": "-40000", "method": "cash"})
    assert done.status_code == 303, done.text
    refunds = (await client.get(f"/api/v1/orders/{order['id']}/refunds", headers=world.auth)).json()
    assert [r["reason"] for r in refunds] == ["seat exchange A 1-1 → B 1-6"]  # the API's value is unchanged
    en = (await client.get(f"/manage/orders/{order['id']}?lang=en")).text
    assert "Reason: Seat exchange A 1-1 → B 1-6" in en
    zh = (await client.get(f"/manage/orders/{order['id']}?lang=zh-CN")).text
    assert "原因：换座 A 1-1 → B 1-6" in zh and "seat exchange" not in zh


async def live_seat(client: httpx.AsyncClient, world, section: str, index: int) -> str:  # noqa: ANN001
    live = (await client.get(f"/manage/sessions/{world.session_id}/seating.json")).json()
    return live["states"][(0 if section == "A" else 30) + index]


async def test_a_general_admission_session_is_given_a_layout_from_its_page(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant,  # noqa: ANN001
) -> None:
    from piaowu.catalog import event_service
    from piaowu.seating.generate import rect_section
    from tests.factories import on_sale_session, owner_actor

    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=500)
    async with runtime.uow() as uow:
        venue_id = (await event_service.get_event(uow, actor, sale.event_id)).venue_id
        layout = await layout_service.save_layout(
            uow, actor, venue_id, "小剧场 Studio", rect_section(section_id="A", rows=2, seats_per_row=5)
        )
        await uow.commit()
    await sign_in(client, tenant.owner_email, tenant.password)
    url = f"/manage/sessions/{sale.session_id}/seating"
    page = await client.get(url + "?lang=en")
    assert (
        page.status_code == 200 and "Sell the seats of this layout" in page.text and "data-seat-picker" not in page.text
    )
    none = await client.post(url + "/layout?lang=en", data={"csrf": csrf_of(page.text), "layout_id": ""})
    assert none.status_code == 422 and "Choose a layout." in none.text
    done = await client.post(url + "/layout", data={"csrf": csrf_of(page.text), "layout_id": layout.id})
    assert done.status_code == 303, done.text
    after = await client.get(url + "?lang=en")
    assert "data-seat-picker" in after.text and "10 seats" in after.text
    live = (await client.get(url + ".json")).json()
    assert live["states"] == "f" * 10 and live["zones"] == [
        {"zone": "A", "total": 10, "free": 10, "held": 0, "sold": 0, "blocked": 0}
    ]
    session_page = await client.get(f"/manage/sessions/{sale.session_id}?lang=en")
    assert f'href="{url}"' in session_page.text


async def test_a_map_file_may_be_bigger_than_other_page_bodies(client: httpx.AsyncClient, runtime: Runtime) -> None:
    """The layout's import takes files up to 16 MB (a stadium's map); the editor's other forms keep 1 MB."""
    world = await seating_world(runtime)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    url, _layout_id = await _new_layout(client, world.venue_id)
    page = await client.get(url)
    doc = {
        "version": 1,
        "sections": [{"id": "A", "kind": "rect", "best": [0, 0]}],
        "seats": [{"section": "A", "row": "1", "number": "1", "x": 0, "y": 0, "zone": "A"}],
    }
    padded = json.dumps(doc) + " " * (1024 * 1024 + 10)  # whitespace: still the same JSON document
    r = await client.post(
        url + "/import", data={"csrf": csrf_of(page.text), "version": "1"}, files={"file": ("big.json", padded)}
    )
    assert r.status_code == 303, re.findall(r"<td[^>]*>([^<]*)</td>", r.text)[:12]
    big_ops = json.dumps([{"op": "unblock", "seats": [["A", "1", "1"]]}]) + " " * (1024 * 1024 + 10)
    refused = await client.post(url + "/save", data={"csrf": csrf_of(page.text), "version": "2", "ops": big_ops})
    assert refused.status_code == 413


async def test_a_clerk_without_the_refund_permission_is_told_before_confirming(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    from tests.factories import staff_member

    world = await seating_world(runtime)
    await staff_member(runtime, world.organizer_id, "sales", "clerk@seat.test")
    await sign_in(client, "clerk@seat.test", "correct horse")
    item = {"product": "seat", "selection": {"ticket_type_id": world.adult_id, "seats": [world.seat("A", "1", "5")]}}
    sale = {"payment": {"method": "cash"}, "buyer": {"name": "王五", "phone": "13812345678"}}
    order = (await client.post("/api/v1/box-office/sales", json={"items": [item], **sale}, headers=world.auth)).json()
    url = f"/manage/orders/{order['id']}/tickets/{order['lines'][0]['ticket']['id']}/exchange"
    form = await client.get(url + "?lang=en")
    shown = await client.post(url + "?lang=en", data={"csrf": csrf_of(form.text), "seat": world.seat("B", "1", "1")})
    assert shown.status_code == 200 and "Refund to the buyer: ¥400.00" in shown.text
    assert "ask a supervisor" in shown.text and 'name="difference"' not in shown.text
    assert "Confirm the difference" not in shown.text
    read = (await client.get(f"/api/v1/orders/{order['id']}", headers=world.auth)).json()
    assert read["lines"][0]["seat"]["number"] == "5" and read["refunded_minor"] == 0  # nothing moved
