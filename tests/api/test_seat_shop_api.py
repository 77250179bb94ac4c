"""The shop's seat API, on SQLite and PostgreSQL: the seat map (with its ETag) and its sections' seats (immutable
URLs), live availability as full states and as a delta, the best-available preview, and the session JSON telling
a page that it sells seats."""

from __future__ import annotations

from datetime import timedelta

from piaowu.seating import layout_service, session_seating, shop_views
from piaowu.seating.availability import BLOCKED, FREE, TAKEN, decode, unpack
from piaowu.seating.layout import SeatMap
from piaowu.workers import sweeper
from tests.factories import on_sale_session
from tests.order_helpers import BUYER
from tests.seating_world import PRICES, seating_world, two_zone_map

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


def expand(runs: list[list]) -> list:
    """``[[value, n], …]`` → the values one by one (``[[first ordinal, n], …]`` for ordinals: use ``ordinals``)."""
    return [v for v, n in runs for _ in range(n)]


def ordinals(runs: list[list[int]]) -> list[int]:
    return [first + k for first, n in runs for k in range(n)]


async def test_seat_map_lists_sections_zones_prices_and_a_small_houses_seats_by_ordinal(runtime, client):
    attrs = {("A", "1", "1"): {"wheelchair"}, ("A", "1", "2"): {"companion", "restricted_view"}}
    world = await seating_world(runtime, attributes=attrs)
    r = await client.get(f"{BASE}/{world.session_id}/seat-map")
    assert r.status_code == 200
    body = r.json()
    assert body["session_id"] == world.session_id and body["layout_version"] >= 1
    assert body["seat_count"] == 60 and body["inline"] is True  # 60 seats: one request
    assert body["pitch"] == 50 and body["bounds"] == [0, 0, 450, 600]  # 10 seats 50 apart; B 3 × 90 + 150 behind
    assert [s["id"] for s in body["sections"]] == ["A", "B"]
    a, b = body["sections"]
    assert set(a) == {
        "id", "label", "kind", "best_x", "best_y", "seat_count", "zones", "attributes", "bbox", "outline",
        "ordinals", "key", "seats_url", "seats",
    }  # fmt: skip
    assert (a["label"], a["kind"], a["seat_count"], a["zones"]) == ("A区", "rect", 30, [["A", 30]])
    assert a["attributes"] == 0b111  # wheelchair, companion, restricted view: the legend needs them at once
    assert (b["zones"], b["attributes"], b["ordinals"]) == ([["B", 30]], 0, [[30, 30]])
    assert a["bbox"] == [0, 0, 450, 180] and len(a["outline"]) >= 4
    xs, ys = [p[0] for p in a["outline"]], [p[1] for p in a["outline"]]
    assert min(xs) < 0 < 450 < max(xs) and min(ys) < 0 < 180 < max(ys)  # around every seat's disc
    assert body["attributes"] == ["wheelchair", "companion", "restricted_view", "partial_view"]
    zone_a = body["zones"][0]
    assert zone_a["zone"] == "A"
    assert {(p["name"], p["price_minor"], p["currency"]) for p in zone_a["prices"]} == {
        ("adult", PRICES["A"][0], "CNY"),
        ("student", PRICES["A"][1], "CNY"),
    }
    # The seats, per section as columns; their ordinals are the availability's.
    seats = a["seats"]
    assert seats["section"] == "A" and seats["count"] == 30
    assert ordinals(seats["ordinals"]) == list(range(30)) and seats["ids"] == world.seat_ids[:30]
    assert expand(seats["rows"]) == ["1"] * 10 + ["2"] * 10 + ["3"] * 10
    assert seats["numbers"][:3] == ["1", "2", "3"] and seats["x"][:3] == [0, 50, 100] and seats["y"][10] == 90
    assert expand(seats["zones"]) == ["A"] * 30
    assert seats["attributes"] == [[0, 0b1], [1, 0b110]]
    assert ordinals(b["seats"]["ordinals"]) == list(range(30, 60)) and b["seats"]["ids"] == world.seat_ids[30:]
    # Revalidation: the same map answers 304 to its ETag.
    etag = r.headers["etag"]
    assert r.headers["cache-control"] == "no-cache"
    again = await client.get(f"{BASE}/{world.session_id}/seat-map", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag
    other = await client.get(f"{BASE}/{world.session_id}/seat-map", headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200


async def test_a_big_house_map_has_sections_only_and_each_sections_seats_at_an_immutable_url(
    runtime, client, monkeypatch
):
    monkeypatch.setattr(shop_views, "INLINE_SEATS", 59)  # the 60-seat house is "big" here
    world = await seating_world(runtime, attributes={("B", "2", "5"): {"partial_view"}})
    body = (await client.get(f"{BASE}/{world.session_id}/seat-map")).json()
    assert body["inline"] is False and all("seats" not in s for s in body["sections"])
    b = body["sections"][1]
    assert b["seats_url"] == f"{BASE}/{world.session_id}/seat-map/sections/{b['key']}"
    r = await client.get(b["seats_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["etag"] == f'"{b["key"]}"'
    seats = r.json()
    assert seats["section"] == "B" and ordinals(seats["ordinals"]) == list(range(30, 60))
    assert seats["ids"] == world.seat_ids[30:] and seats["attributes"] == [[14, 0b1000]]
    # The same bytes a small house has inline.
    monkeypatch.setattr(shop_views, "INLINE_SEATS", 60)
    inline = (await client.get(f"{BASE}/{world.session_id}/seat-map")).json()["sections"][1]
    assert inline["key"] == b["key"] and inline["seats"] == seats
    # A client that revalidates anyway gets 304.
    again = await client.get(b["seats_url"], headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


async def test_a_section_is_answered_only_under_its_own_session_and_organizer(runtime, client):
    world = await seating_world(runtime)
    draft = await seating_world(runtime, world.tenant, status="draft")
    other = await seating_world(runtime, slug="other-hall")
    mine = (await client.get(f"{BASE}/{world.session_id}/seat-map")).json()["sections"][0]["key"]
    theirs = (await client.get(f"/api/v1/shop/other-hall/sessions/{other.session_id}/seat-map")).json()
    their_key = theirs["sections"][0]["key"]
    assert (await client.get(f"{BASE}/{world.session_id}/seat-map/sections/{mine}")).status_code == 200
    for path in (
        f"{BASE}/{world.session_id}/seat-map/sections/nope",  # no such section
        f"{BASE}/{world.session_id}/seat-map/sections/{their_key}",  # another session's section
        f"{BASE}/{other.session_id}/seat-map/sections/{their_key}",  # another organizer's session, my slug
        f"{BASE}/{draft.session_id}/seat-map/sections/{mine}",  # a session the shop does not show
        f"{BASE}/nope/seat-map/sections/{mine}",  # no such session
        f"/api/v1/shop/nope/sessions/{world.session_id}/seat-map/sections/{mine}",  # no such shop
    ):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/problem+json" and r.json()["code"] == "not_found", path
        assert "immutable" not in r.headers.get("cache-control", "")  # a refusal is never kept
    # Nor does a 304 answer for a key that is not the session's.
    r = await client.get(f"{BASE}/{world.session_id}/seat-map/sections/x", headers={"If-None-Match": '"x"'})
    assert r.status_code == 404
    r = await client.get(f"{BASE}/{world.session_id}/seat-map/sections/{'k' * 41}")
    assert r.status_code == 422


async def test_a_new_layout_gives_new_section_urls_and_the_old_ones_are_gone(runtime, client):
    """Reassigned with its sections the other way round (B's seats come first): every section gets a new key and
    the map a new ETag, and the old keys answer 404 — a page never reads the new ordinals with an old section."""
    world = await seating_world(runtime)
    url = f"{BASE}/{world.session_id}/seat-map"
    r1 = await client.get(url)
    old = {s["id"]: s for s in r1.json()["sections"]}
    seat_map = two_zone_map()
    b_first = [s for s in seat_map.seats if s.section == "B"] + [s for s in seat_map.seats if s.section == "A"]
    flipped = SeatMap(seat_map.sections[::-1], tuple(b_first))
    async with runtime.uow() as uow:
        await layout_service.save_layout(uow, world.actor, world.venue_id, "flipped", flipped, world.layout_id)
        await session_seating.assign_layout(uow, world.actor, world.session_id, world.layout_id)
        await uow.commit()
    r2 = await client.get(url, headers={"If-None-Match": r1.headers["etag"]})
    assert r2.status_code == 200 and r2.headers["etag"] != r1.headers["etag"]
    assert r2.json()["layout_version"] == r1.json()["layout_version"] + 1
    new = {s["id"]: s for s in r2.json()["sections"]}
    assert [s["id"] for s in r2.json()["sections"]] == ["B", "A"]
    assert new["A"]["ordinals"] == [[30, 30]] and old["A"]["ordinals"] == [[0, 30]]
    for section in ("A", "B"):
        assert new[section]["key"] != old[section]["key"]
        assert (await client.get(old[section]["seats_url"])).status_code == 404
        fresh = (await client.get(new[section]["seats_url"])).json()
        assert fresh["ordinals"] == new[section]["ordinals"]
    # The availability's ordinals are the new map's: A's first seat (ordinal 30) is the one sold.
    a1 = (await client.get(new["A"]["seats_url"])).json()["ids"][0]
    await buy_seats(client, world.adult_id, [a1])
    _, s, _ = await states(client, world.session_id, 60)
    assert s[30] == TAKEN and s.count(TAKEN) == 1


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


async def test_the_map_names_ticket_types_in_the_readers_language_and_says_so(runtime, client, monkeypatch):
    """The map prints ticket type names in the reader's language (``Vary: Accept-Language``, each language its own
    ETag); a section's seats and the seat states have no texts: one answer per URL for every reader, no Vary."""
    monkeypatch.setattr(shop_views, "INLINE_SEATS", 59)  # sections at URLs of their own
    world = await seating_world(runtime)
    names = {"zh-CN": "成人票", "en": "Adult"}
    r = await client.patch(f"/api/v1/ticket-types/{world.adult_id}", json={"name_i18n": names}, headers=world.auth)
    assert r.status_code == 200, r.text
    url = f"{BASE}/{world.session_id}/seat-map"
    en = await client.get(url, headers={"Accept-Language": "en"})
    zh = await client.get(url, headers={"Accept-Language": "zh-CN"})
    for r, name in ((en, "Adult"), (zh, "成人票")):
        assert r.status_code == 200 and r.headers["vary"] == "Accept-Language", r.headers
        assert name in {p["name"] for z in r.json()["zones"] for p in z["prices"]}
    assert en.headers["etag"] != zh.headers["etag"]
    stale = await client.get(url, headers={"Accept-Language": "en", "If-None-Match": zh.headers["etag"]})
    assert stale.status_code == 200 and stale.content == en.content  # a cache holding the Chinese map gets English
    section = en.json()["sections"][0]["seats_url"]
    for url in (section, f"{BASE}/{world.session_id}/seat-availability"):
        a = await client.get(url, headers={"Accept-Language": "en"})
        b = await client.get(url, headers={"Accept-Language": "zh-CN"})
        assert a.status_code == 200 and a.content == b.content and "vary" not in a.headers, url
