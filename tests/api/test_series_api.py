"""Sessions in series through the API: event ticket types, a preview, generation, and a buyer buying a ticket of
a generated session through the ordinary order routes (staff and the public shop)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.order_helpers import BUYER, create_order
from tests.tenant_world import diff, snapshot

SEASON = {
    "first_date": "2026-07-01",
    "last_date": "2026-07-30",
    "start_times": ["09:00"],
    "duration_minutes": 480,
    "capacity": 200,
    "status": "on_sale",
}


async def _attraction(client, auth) -> str:  # noqa: ANN001
    r = await client.post(
        "/api/v1/events", json={"name": "西湖 West Lake", "kind": "attraction", "is_published": True}, headers=auth
    )
    assert r.status_code == 201, r.text
    event_id = r.json()["id"]
    for body in (
        {"name": "成人 Adult", "price_minor": 8000},
        {"name": "学生 Student", "price_minor": 4000, "quota": 30},
    ):
        r = await client.post(f"/api/v1/events/{event_id}/ticket-types", json=body, headers=auth)
        assert r.status_code == 201, r.text
    return event_id


async def test_preview_then_generate_then_buy_a_generated_session(runtime, client, tenant):
    event_id = await _attraction(client, tenant.auth)
    defs = (await client.get(f"/api/v1/events/{event_id}/ticket-types", headers=tenant.auth)).json()
    assert [(d["name"], d["sessions"]) for d in defs] == [("成人 Adult", 0), ("学生 Student", 0)]

    before = await snapshot(runtime, tenant.organizer_id)
    preview = await client.post(
        f"/api/v1/events/{event_id}/series", json={**SEASON, "dry_run": True}, headers=tenant.auth
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert (body["dry_run"], body["planned"], body["created"], body["timezone"]) == (True, 30, 0, "Asia/Shanghai")
    assert body["sessions"][0]["starts_at"].startswith("2026-07-01T01:00:00")  # 09:00 in Shanghai
    assert diff(before, await snapshot(runtime, tenant.organizer_id)) == []  # a preview writes nothing

    made = await client.post(f"/api/v1/events/{event_id}/series", json=SEASON, headers=tenant.auth)
    assert made.status_code == 200, made.text
    assert (made.json()["created"], made.json()["ticket_types"]) == (30, 2)
    again = (await client.post(f"/api/v1/events/{event_id}/series", json=SEASON, headers=tenant.auth)).json()
    assert (again["created"], again["existing"]) == (0, 30)
    defs = (await client.get(f"/api/v1/events/{event_id}/ticket-types", headers=tenant.auth)).json()
    assert [d["sessions"] for d in defs] == [30, 30]

    # A buyer buys a student ticket of the 3rd day at the counter (API) and one adult ticket in the shop.
    session_id = made.json()["sessions"][2]["session_id"]
    s = (await client.get(f"/api/v1/sessions/{session_id}", headers=tenant.auth)).json()
    assert s["capacity"] == 200 and s["starts_at"].startswith("2026-07-03T01:00:00")
    student = next(t for t in s["ticket_types"] if t["name"] == "学生 Student")
    adult = next(t for t in s["ticket_types"] if t["name"] == "成人 Adult")
    assert (student["available"], student["definition_id"]) == (30, defs[1]["id"])
    order = await create_order(client, tenant.auth, student["id"], 2)
    assert order.status_code == 201, order.text
    assert order.json()["total_minor"] == 8000
    paid = await client.post(f"/api/v1/orders/{order.json()['id']}/pay", json={"method": "cash"}, headers=tenant.auth)
    assert paid.status_code == 200 and all(line["ticket"] for line in paid.json()["lines"])
    shop = f"/api/v1/shop/{tenant.slug}"
    shown = await client.get(f"{shop}/sessions/{session_id}")
    assert shown.status_code == 200, shown.text
    bought = await client.post(
        f"{shop}/orders", json={"items": [{"ticket_type_id": adult["id"], "quantity": 1}], "buyer": BUYER}
    )
    assert bought.status_code == 201, bought.text
    s = (await client.get(f"/api/v1/sessions/{session_id}", headers=tenant.auth)).json()
    assert (s["sold"], s["held"]) == (2, 1)


async def test_a_definition_edit_reaches_its_sessions_but_not_a_price_set_on_one(client, tenant):
    event_id = await _attraction(client, tenant.auth)
    made = (await client.post(f"/api/v1/events/{event_id}/series", json=SEASON, headers=tenant.auth)).json()
    defs = (await client.get(f"/api/v1/events/{event_id}/ticket-types", headers=tenant.auth)).json()
    adult_def = defs[0]["id"]
    first = (await client.get(f"/api/v1/sessions/{made['sessions'][0]['session_id']}", headers=tenant.auth)).json()
    adult = next(t for t in first["ticket_types"] if t["definition_id"] == adult_def)
    r = await client.patch(f"/api/v1/ticket-types/{adult['id']}", json={"price_minor": 9900}, headers=tenant.auth)
    assert r.status_code == 200 and r.json()["price_overridden"] is True
    r = await client.patch(
        f"/api/v1/event-ticket-types/{adult_def}", json={"price_minor": 8800, "name": "成人票"}, headers=tenant.auth
    )
    assert r.status_code == 200, r.text
    assert (r.json()["sessions"], r.json()["applied_to"], r.json()["price_minor"]) == (30, 30, 8800)
    ev = (await client.get(f"/api/v1/events/{event_id}", headers=tenant.auth)).json()
    prices = [
        next(t for t in s["ticket_types"] if t["definition_id"] == adult_def)["price_minor"] for s in ev["sessions"]
    ]
    assert prices == [9900] + [8800] * 29
    names = {next(t for t in s["ticket_types"] if t["definition_id"] == adult_def)["name"] for s in ev["sessions"]}
    assert names == {"成人票"}
    audit = await client.get(
        "/api/v1/audit-events",
        params={"subject_type": "event_ticket_type", "subject_id": adult_def},
        headers=tenant.auth,
    )
    assert audit.status_code == 200, audit.text
    assert [e["action"] for e in audit.json()["items"]] == ["event_ticket_type.updated", "event_ticket_type.created"]
    assert audit.json()["items"][0]["after"]["applied_to"] == 30


async def test_too_many_sessions_and_an_empty_series_are_problems_that_write_nothing(runtime, client, tenant):
    event_id = await _attraction(client, tenant.auth)
    before = await snapshot(runtime, tenant.organizer_id)
    big = {**SEASON, "last_date": "2027-12-31", "start_times": ["09:00", "13:00"]}
    r = await client.post(
        f"/api/v1/events/{event_id}/series", json=big, headers={**tenant.auth, "accept-language": "zh-CN"}
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert (r.json()["code"], r.json()["count"], r.json()["limit"]) == ("too_many_sessions", 1098, 500)
    assert "1098" in r.json()["title"] and "场次" in r.json()["title"]
    r = await client.post(
        f"/api/v1/events/{event_id}/series",
        json={**SEASON, "last_date": "2026-07-03", "weekdays": [5, 6]},
        headers=tenant.auth,
    )
    assert r.status_code == 422 and r.json()["code"] == "empty_series"
    assert diff(before, await snapshot(runtime, tenant.organizer_id)) == []


async def test_a_rule_in_another_time_zone_keeps_its_wall_clock(client, tenant):
    event_id = await _attraction(client, tenant.auth)
    rule = {**SEASON, "first_date": "2026-10-20", "last_date": "2026-10-30", "weekdays": [1, 4],
            "start_times": ["19:30"], "timezone": "Europe/Berlin"}  # fmt: skip
    out = (await client.post(f"/api/v1/events/{event_id}/series", json=rule, headers=tenant.auth)).json()
    assert out["timezone"] == "Europe/Berlin" and out["created"] == 4  # Oct 20, 23, 27, 30: the clocks go back on 25
    local = [datetime.fromisoformat(s["starts_at"]).astimezone(ZoneInfo("Europe/Berlin")) for s in out["sessions"]]
    assert {(t.hour, t.minute) for t in local} == {(19, 30)}
    assert [datetime.fromisoformat(s["starts_at"]).hour for s in out["sessions"]] == [17, 17, 18, 18]


async def test_an_event_ticket_type_is_written_once_in_each_language_and_its_sessions_follow(client, tenant):
    r = await client.post(
        "/api/v1/events",
        json={"name_i18n": {"zh-CN": "西湖", "en": "West Lake"}, "kind": "attraction"},
        headers=tenant.auth,
    )
    event_id = r.json()["id"]
    body = {"name_i18n": {"zh-CN": "成人票", "en": "Adult"}, "price_minor": 8000}
    r = await client.post(f"/api/v1/events/{event_id}/ticket-types", json=body, headers=tenant.auth)
    assert r.status_code == 201, r.text
    definition = r.json()
    assert (definition["name"], definition["name_i18n"]) == ("成人票", {"zh-CN": "成人票", "en": "Adult"})
    one_day = {**SEASON, "last_date": SEASON["first_date"]}
    made = await client.post(f"/api/v1/events/{event_id}/series", json=one_day, headers=tenant.auth)
    session_id = made.json()["sessions"][0]["session_id"]

    async def session_type(lang: str) -> dict:
        r = await client.get(f"/api/v1/sessions/{session_id}?lang={lang}", headers=tenant.auth)
        return r.json()["ticket_types"][0]

    assert (await session_type("en"))["name"] == "Adult" and (await session_type("zh-CN"))["name"] == "成人票"

    r = await client.patch(
        f"/api/v1/event-ticket-types/{definition['id']}?lang=en",
        json={"name_i18n": {"en": "Adult (18+)"}, "description_i18n": {"en": "Photo ID at the gate."}},
        headers=tenant.auth,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["applied_to"]) == ("Adult (18+)", 1)
    en = await session_type("en")
    assert (en["name"], en["description"]) == ("Adult (18+)", "Photo ID at the gate.")
    assert (await session_type("zh-CN"))["name"] == "成人票"  # the other language's text is kept

    r = await client.patch(
        f"/api/v1/event-ticket-types/{definition['id']}", json={"name_i18n": {"fr": "Adulte"}}, headers=tenant.auth
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
