"""The shop's seat API, on SQLite and PostgreSQL: the seat map (with its ETag), live availability as full states
and as a delta, the best-available preview, and the session JSON telling a page that it sells seats."""

from __future__ import annotations

from datetime import timedelta

from piaowu.seating.availability import BLOCKED, FREE, TAKEN, decode, unpack
from piaowu.workers import sweeper
from tests.factories import on_sale_session
from tests.order_helpers import BUYER
from tests.seating_world import PRICES, seating_world

BASE = "/api/v1/shop/seat-theatre/sessions"


async def states(client, session_id: str, count: int) -> tuple[str, list[int], dict]:  # noqa: ANN001
    r = await client.get(f"{BASE}/{session_id}/seat-availability")
    assert r.status_code == 200, r.text
    body = r.json()
    return body["version"], unpack(decode(body["states"]), count), body["zones"]


async def buy_seats(client, tt: str, seats: list[str]):  # noqa: ANN001, ANN201
    item = {"product": "seat", "selection": {"ticket_type_id": tt, "seats": seats}}
    r = await client.post("/api/v1/shop/seat-theatre/orders", json={"items": [item], "buyer": BUYER})
    assert r.status_code == 201, r.text
    return r.json()


async def test_seat_map_lists_sections_zones_prices_and_seats_by_ordinal(runtime, client):
    attrs = {("A", "1", "1"): {"wheelchair"}, ("A", "1", "2"): {"companion", "restricted_view"}}
    world = await seating_world(runtime, attributes=attrs)
    r = await client.get(f"{BASE}/{world.session_id}/seat-map")
    assert r.status_code == 200
    body = r.json()
    assert body["session_id"] == world.session_id and body["layout_version"] >= 1
    assert [s["id"] for s in body["sections"]] == ["A", "B"]
    assert set(body["sections"][0]) == {"id", "label", "kind", "best_x", "best_y"}
    assert body["attributes"] == ["wheelchair", "companion", "restricted_view", "partial_view"]
    zone_a = body["zones"][0]
    assert zone_a["zone"] == "A"
    assert {(p["name"], p["price_minor"], p["currency"]) for p in zone_a["prices"]} == {
        ("adult", PRICES["A"][0], "CNY"),
        ("student", PRICES["A"][1], "CNY"),
    }
    seats = body["seats"]
    assert [s[0] for s in seats] == world.seat_ids and [s[1] for s in seats] == list(range(60))
    assert seats[0][2:5] == ["A", "1", "1"] and seats[0][7] == "A" and seats[0][8] == 0b1
    assert seats[1][8] == 0b110
    assert seats[-1][2:5] == ["B", "3", "10"] and seats[-1][7] == "B"
    # Revalidation: the same map answers 304 to its ETag.
    etag = r.headers["etag"]
    again = await client.get(f"{BASE}/{world.session_id}/seat-map", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    other = await client.get(f"{BASE}/{world.session_id}/seat-map", headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200


async def test_seat_api_answers_only_for_seated_sessions_the_shop_shows(runtime, client):
    world = await seating_world(runtime)
    ga = await on_sale_session(runtime, world.actor)
    draft = await seating_world(runtime, world.tenant, status="draft")
    other = await seating_world(runtime, slug="other-hall")
    for session_id in (ga.session_id, draft.session_id, other.session_id, "nope"):
        for path in ("seat-map", "seat-availability"):
            r = await client.get(f"{BASE}/{session_id}/{path}")
            assert r.status_code == 404 and r.json()["code"] == "not_found", (session_id, path)
        r = await client.post(f"{BASE}/{session_id}/best-available", json={"quantity": 1})
        assert r.status_code == 404
    page = (await client.get(f"{BASE}/{world.session_id}")).json()
    assert page["seating"] == {"seat_count": 60, "zones": ["A", "B"]}
    assert (await client.get(f"{BASE}/{ga.session_id}")).json()["seating"] is None


async def test_availability_shows_taken_and_blocked_seats_and_answers_since_with_changes(runtime, client):
    world = await seating_world(runtime, blocked=[("B", "3", "10")])
    v1, s1, zones = await states(client, world.session_id, 60)
    assert s1 == [FREE] * 59 + [BLOCKED]
    assert zones == {"A": {"free": 30, "total": 30}, "B": {"free": 29, "total": 30}}
    a = world.seat("A", "1", "3")
    await buy_seats(client, world.adult_id, [a])
    v2, s2, zones = await states(client, world.session_id, 60)
    assert v2 != v1 and s2[2] == TAKEN and zones["A"]["free"] == 29
    r = await client.get(f"{BASE}/{world.session_id}/seat-availability", params={"since": v1})
    body = r.json()
    assert body == {"version": v2, "since": v1, "changes": [[2, TAKEN]], "zones": zones}
    r = await client.get(f"{BASE}/{world.session_id}/seat-availability", params={"since": v2})
    assert r.json()["changes"] == []
    # A version this process does not keep: the full states.
    r = await client.get(f"{BASE}/{world.session_id}/seat-availability", params={"since": "unknown"})
    assert "states" in r.json() and "changes" not in r.json()


async def test_an_expired_hold_frees_its_seats_on_the_map(runtime, client, clock):
    world = await seating_world(runtime)
    seats = world.zone_seats("B")[:2]
    await buy_seats(client, world.student_id, seats)
    _, s, _ = await states(client, world.session_id, 60)
    assert [s[30], s[31]] == [TAKEN, TAKEN]
    clock.advance(timedelta(minutes=runtime.settings.hold_minutes + 1))
    assert await sweeper.expire_orders(runtime) == 1
    _, s, zones = await states(client, world.session_id, 60)
    assert s == [FREE] * 60 and zones["B"]["free"] == 30
    await buy_seats(client, world.adult_id, seats)  # sold again


async def test_best_available_preview_holds_nothing(runtime, client):
    world = await seating_world(runtime)
    url = f"{BASE}/{world.session_id}/best-available"
    r = await client.post(url, json={"quantity": 2, "zone": "B", "ticket_type_id": world.student_id})
    assert r.status_code == 200, r.text
    seats = r.json()["seats"]
    assert len(seats) == 2 and {s["zone"] for s in seats} == {"B"}
    assert {s["price_minor"] for s in seats} == {PRICES["B"][1]}
    assert set(seats[0]) == {"id", "ordinal", "section", "row", "number", "zone", "attributes", "price_minor"}
    again = await client.post(url, json={"quantity": 2, "zone": "B", "ticket_type_id": world.student_id})
    assert again.json()["seats"] == seats  # nothing was held
    _, s, _ = await states(client, world.session_id, 60)
    assert s == [FREE] * 60
    r = await client.post(url, json={"quantity": 3})
    assert r.status_code == 200 and all(s["price_minor"] is None for s in r.json()["seats"])
    r = await client.post(url, json={"quantity": 11, "zone": "A"})
    assert r.status_code == 409 and r.json()["code"] == "no_adjacent_block"
    r = await client.post(url, json={"quantity": 31, "zone": "A"})
    assert r.status_code == 409 and r.json()["code"] == "not_enough_seats"
    r = await client.post(url, json={"quantity": 1, "wheelchair": 1})
    assert r.status_code == 409 and r.json()["code"] == "no_wheelchair_space"
    r = await client.post(url, json={"quantity": 1, "zone": "Z"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "zone_not_priced"
    r = await client.post(url, json={"quantity": 1, "ticket_type_id": "nope"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_ticket_type"
    for bad in ({"quantity": 0}, {"quantity": "2"}, {"quantity": 1, "extra": 1}, {}):
        r = await client.post(url, json=bad)
        assert r.status_code == 422 and r.json()["code"] == "validation_error", bad


async def test_best_available_gives_a_restricted_view_only_when_the_buyer_allows_it(runtime, client):
    """Zone A is behind pillars but for two seats at the back: those first; a group of three gets a restricted
    view only with ``restricted``, in the preview and in the order, and is told ``restricted_view_only`` without."""
    clear = {("A", "3", "1"), ("A", "3", "2")}
    pillars = {
        ("A", str(r), str(n)): {"restricted_view" if n % 2 else "partial_view"}
        for r in range(1, 4)
        for n in range(1, 11)
        if ("A", str(r), str(n)) not in clear
    }
    world = await seating_world(runtime, attributes=pillars)
    url = f"{BASE}/{world.session_id}/best-available"
    two = await client.post(url, json={"quantity": 2, "zone": "A"})
    assert two.status_code == 200, two.text
    assert {(s["row"], s["number"]) for s in two.json()["seats"]} == {("3", "1"), ("3", "2")}
    assert two.json()["limited_view"] == 0
    refused = await client.post(url, json={"quantity": 3, "zone": "A"})
    assert refused.status_code == 409 and refused.json()["code"] == "restricted_view_only", refused.text
    zh = await client.post(url, json={"quantity": 3, "zone": "A"}, headers={"Accept-Language": "zh-CN"})
    assert "视线受阻" in zh.json()["title"]
    allowed = await client.post(url, json={"quantity": 3, "zone": "A", "restricted": True})
    assert allowed.status_code == 200, allowed.text
    seats = allowed.json()["seats"]
    limited = [s for s in seats if {"restricted_view", "partial_view"} & set(s["attributes"])]
    assert len(seats) == 3 and allowed.json()["limited_view"] == len(limited) >= 1
    # Zone B has a clear view: the flag changes nothing there.
    b = await client.post(url, json={"quantity": 3, "zone": "B", "restricted": True})
    assert b.status_code == 200 and b.json()["limited_view"] == 0

    shop = "/api/v1/shop/seat-theatre/orders"

    def order(restricted: bool) -> dict:
        best = {"zone": "A", "quantity": 3, "restricted": restricted}
        item = {"product": "seat", "selection": {"ticket_type_id": world.adult_id, "best_available": best}}
        return {"items": [item], "buyer": BUYER}

    no = await client.post(shop, json=order(False))
    assert no.status_code == 409 and no.json()["code"] == "restricted_view_only", no.text
    _, s, _ = await states(client, world.session_id, 60)
    assert s == [FREE] * 60  # nothing held
    yes = await client.post(shop, json=order(True))
    assert yes.status_code == 201, yes.text
    assert len(yes.json()["lines"]) == 3
    bad = await client.post(url, json={"quantity": 3, "restricted": "yes"})
    assert bad.status_code == 422
