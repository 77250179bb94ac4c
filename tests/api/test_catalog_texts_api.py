"""Catalog texts in several languages through the API, and venues as records of their own."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.order_helpers import BUYER

EN = {"Accept-Language": "en-US,en;q=0.9"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


async def _concert(runtime, client: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, str]:  # noqa: ANN001
    venue = await client.post(
        "/api/v1/venues",
        json={
            "name_i18n": {"zh-CN": "国家大剧院", "en": "National Centre for the Performing Arts"},
            "address_i18n": {"zh-CN": "西长安街2号", "en": "2 West Chang'an Avenue"},
            "timezone": "Asia/Shanghai",
            "entrances": ["北门 North", "南门 South"],
        },
        headers=auth,
    )
    assert venue.status_code == 201, venue.text
    ev = await client.post(
        "/api/v1/events",
        json={
            "name_i18n": {"zh-CN": "新年音乐会", "en": "New Year Concert"},
            "description_i18n": {"zh-CN": "维也纳经典曲目", "en": "Viennese classics"},
            "venue_id": venue.json()["id"],
            "is_published": True,
        },
        headers=auth,
    )
    assert ev.status_code == 201, ev.text
    start = runtime.clock.now() + timedelta(days=10)
    s = await client.post(
        f"/api/v1/events/{ev.json()['id']}/sessions",
        json={
            "name_i18n": {"zh-CN": "晚场", "en": "Evening"},
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(),
            "capacity": 50,
            "status": "on_sale",
        },
        headers=auth,
    )
    assert s.status_code == 201, s.text
    vip = await client.post(
        f"/api/v1/sessions/{s.json()['id']}/ticket-types",
        json={"name_i18n": {"zh-CN": "贵宾席", "en": "VIP"}, "price_minor": 88000},
        headers=auth,
    )
    only_zh = await client.post(
        f"/api/v1/sessions/{s.json()['id']}/ticket-types", json={"name": "站票", "price_minor": 10000}, headers=auth
    )
    assert vip.status_code == only_zh.status_code == 201, vip.text + only_zh.text
    return {
        "venue": venue.json()["id"],
        "event": ev.json()["id"],
        "session": s.json()["id"],
        "vip": vip.json()["id"],
        "standing": only_zh.json()["id"],
    }


async def test_names_come_in_the_requested_language_with_a_fallback(runtime, client, tenant):
    ids = await _concert(runtime, client, tenant.auth)
    en = (await client.get(f"/api/v1/events/{ids['event']}", headers={**tenant.auth, **EN})).json()
    assert (en["name"], en["description"], en["venue_name"]) == (
        "New Year Concert",
        "Viennese classics",
        "National Centre for the Performing Arts",
    )
    assert en["venue_address"] == "2 West Chang'an Avenue" and en["venue_timezone"] == "Asia/Shanghai"
    assert en["name_i18n"] == {"zh-CN": "新年音乐会", "en": "New Year Concert"}
    session = en["sessions"][0]
    assert session["name"] == "Evening"
    # A ticket type written in Chinese only: an English reader gets the Chinese name rather than nothing.
    assert {t["name"] for t in session["ticket_types"]} == {"VIP", "站票"}
    zh = (await client.get(f"/api/v1/events/{ids['event']}", headers={**tenant.auth, **ZH})).json()
    assert (zh["name"], zh["venue_name"], zh["sessions"][0]["name"]) == ("新年音乐会", "国家大剧院", "晚场")
    # ?lang= beats Accept-Language; no language at all is the default (zh-CN)
    q = (await client.get(f"/api/v1/events/{ids['event']}?lang=zh-CN", headers={**tenant.auth, **EN})).json()
    assert q["name"] == "新年音乐会"
    plain = (await client.get(f"/api/v1/events/{ids['event']}", headers=tenant.auth)).json()
    assert plain["name"] == "新年音乐会"
    # the public shop speaks the buyer's language too
    shop = (await client.get(f"/api/v1/shop/{tenant.slug}/events", headers=EN)).json()
    assert [e["name"] for e in shop] == ["New Year Concert"]


async def test_the_plain_fields_still_work_and_become_the_default_language(runtime, client, tenant):
    ids = await _concert(runtime, client, tenant.auth)
    r = await client.patch(f"/api/v1/events/{ids['event']}", json={"name": "元旦音乐会"}, headers=tenant.auth)
    assert r.status_code == 200
    assert r.json()["name_i18n"] == {"zh-CN": "元旦音乐会", "en": "New Year Concert"}
    tt = await client.patch(
        f"/api/v1/ticket-types/{ids['standing']}", json={"name_i18n": {"en": "Standing"}}, headers=tenant.auth
    )
    assert tt.json()["name_i18n"] == {"zh-CN": "站票", "en": "Standing"}
    assert tt.json()["name"] == "站票"  # no language asked: the default's
    # an empty text removes that language; the name must keep some text
    r = await client.patch(
        f"/api/v1/events/{ids['event']}", json={"name_i18n": {"en": ""}}, headers={**tenant.auth, **EN}
    )
    assert r.json()["name_i18n"] == {"zh-CN": "元旦音乐会"} and r.json()["name"] == "元旦音乐会"
    gone = await client.patch(f"/api/v1/events/{ids['event']}", json={"name_i18n": {"zh-CN": ""}}, headers=tenant.auth)
    assert gone.status_code == 422 and gone.json()["errors"][0]["field"] == "name", gone.text
    none = await client.post("/api/v1/events", json={"description": "x"}, headers=tenant.auth)
    assert none.status_code == 422 and none.json()["errors"][0]["code"] == "missing", none.text


async def test_unknown_languages_and_overlong_texts_are_refused(client, tenant):
    for body, field in [
        ({"name_i18n": {"fr": "Concert"}}, "name_i18n.fr"),
        ({"name": "x", "name_i18n": {"en": "x" * 201}}, "name_i18n.en"),
        ({"name": "x", "description_i18n": {"en": 5}}, "description_i18n.en"),
        ({"name": "x", "name_i18n": {"en": "a\u202eb"}}, "name_i18n.en"),
        ({"name": "x", "name_i18n": ["en"]}, "name_i18n"),
    ]:
        r = await client.post("/api/v1/events", json=body, headers=tenant.auth)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
        assert [e["field"] for e in r.json()["errors"]][0].startswith(field), (body, r.text)
    bad_zone = await client.post(
        "/api/v1/venues", json={"name": "Hall", "timezone": "Mars/Olympus"}, headers=tenant.auth
    )
    assert bad_zone.status_code == 422 and bad_zone.json()["errors"][0]["field"] == "timezone", bad_zone.text


async def test_a_buyer_orders_in_their_language_and_the_line_keeps_that_name(runtime, client, tenant):
    ids = await _concert(runtime, client, tenant.auth)
    body = {"items": [{"ticket_type_id": ids["vip"], "quantity": 1}], "buyer": BUYER}
    r = await client.post(f"/api/v1/shop/{tenant.slug}/orders", json=body, headers=EN)
    assert r.status_code == 201, r.text
    line = r.json()["lines"][0]
    assert (line["ticket_type_name"], line["event_name"]) == ("VIP", "New Year Concert")
    zh = await client.post(f"/api/v1/shop/{tenant.slug}/orders", json=body, headers=ZH)
    assert zh.json()["lines"][0]["ticket_type_name"] == "贵宾席"


async def test_venues_are_listed_read_and_edited(runtime, client, tenant):
    ids = await _concert(runtime, client, tenant.auth)
    listed = await client.get("/api/v1/venues", headers={**tenant.auth, **EN})
    assert listed.status_code == 200
    mine = [v for v in listed.json()["items"] if v["id"] == ids["venue"]]
    assert mine and mine[0]["name"] == "National Centre for the Performing Arts"
    assert mine[0]["entrances"] == ["北门 North", "南门 South"]
    r = await client.patch(
        f"/api/v1/venues/{ids['venue']}",
        json={"timezone": "Asia/Urumqi", "entrances": ["East"], "address": "西长安街2号甲"},
        headers=tenant.auth,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["timezone"], r.json()["entrances"], r.json()["address"]) == (
        "Asia/Urumqi",
        ["East"],
        "西长安街2号甲",
    )
    got = await client.get(f"/api/v1/venues/{ids['venue']}", headers={**tenant.auth, **EN})
    assert got.json()["address"] == "2 West Chang'an Avenue" and got.json()["timezone"] == "Asia/Urumqi"
    ev = (await client.get(f"/api/v1/events/{ids['event']}", headers=tenant.auth)).json()
    assert ev["venue_timezone"] == "Asia/Urumqi"  # the event shows its venue as it is now
    audit = await client.get(
        "/api/v1/audit-events", params={"subject_type": "venue", "subject_id": ids["venue"]}, headers=tenant.auth
    )
    assert [e["action"] for e in audit.json()["items"]] == ["venue.updated", "venue.created"]
    # an event may leave its venue, and the old way (a venue's name) still finds or makes one
    left = await client.patch(f"/api/v1/events/{ids['event']}", json={"venue_id": None}, headers=tenant.auth)
    assert left.json()["venue_id"] is None and left.json()["venue_name"] == ""
    by_name = await client.patch(
        f"/api/v1/events/{ids['event']}", json={"venue_name": "国家大剧院"}, headers=tenant.auth
    )
    assert by_name.json()["venue_id"] == ids["venue"]
    missing = await client.get("/api/v1/venues/01J00000000000000000000000", headers=tenant.auth)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
