"""The staff API of seat maps, on SQLite and PostgreSQL: layouts per venue built from generated sections, edited
on the map, imported and exported; a session given a layout, its zone prices, seats kept back and released,
the summary per zone. Bad input is a problem+json with every problem and nothing half written."""

from __future__ import annotations

import json
from datetime import timedelta

from piaowu.inventory import service as inventory
from piaowu.inventory.rules import Claim, Take
from tests.seating_world import seating_world
from tests.tenant_world import diff, snapshot

API = "/api/v1"


async def _state(runtime, client, world) -> tuple[object, str]:  # noqa: ANN001
    """Every row of the organizer and the layout's map (its seats have no organizer column of their own)."""
    exported = await client.get(f"{API}/seat-layouts/{world.layout_id}/export?format=json", headers=world.auth)
    return await snapshot(runtime, world.organizer_id), exported.text


async def _unchanged(runtime, client, world, before) -> None:  # noqa: ANN001
    rows, exported = await _state(runtime, client, world)
    assert diff(before[0], rows) == [] and exported == before[1]


def _csv(*lines: str) -> bytes:
    return ("section,row,number,x,y,zone,attributes\n" + "\n".join(lines) + "\n").encode()


async def test_build_a_layout_from_sections_edit_it_and_sell_it_in_a_session(runtime, client, tenant):
    world = await seating_world(runtime, tenant)
    auth = world.auth
    r = await client.post(f"{API}/venues/{world.venue_id}/seat-layouts", json={"name": "小厅 Small"}, headers=auth)
    assert r.status_code == 201, r.text
    layout = r.json()
    assert (layout["seat_count"], layout["version"], layout["zones"]) == (0, 1, [])
    lid = layout["id"]
    section = {"kind": "rect", "section_id": "P", "rows": 2, "seats_per_row": 4, "zone": "VIP", "aisles_after": [2]}
    r = await client.post(f"{API}/seat-layouts/{lid}/sections", json={"section": section}, headers=auth)
    assert r.status_code == 200, r.text
    assert (r.json()["seat_count"], r.json()["version"]) == (8, 2)
    arc = {"kind": "arc", "section_id": "Q", "rows": 2, "radius": 1500, "angle_span": 30, "zone": "Q"}
    r = await client.post(f"{API}/seat-layouts/{lid}/sections", json={"section": arc, "version": 2}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["zones"] == ["VIP", "Q"] and [s["kind"] for s in r.json()["sections"]] == ["rect", "arc"]
    again = {"section": {**arc, "section_id": "R", "centre": [0, 5000]}, "version": 2}
    stale = await client.post(f"{API}/seat-layouts/{lid}/sections", json=again, headers=auth)
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"  # version 2 is no longer current
    ops = {
        "ops": [
            {"op": "set_attributes", "seats": [["P", "1", "1"]], "attributes": ["wheelchair"]},
            {"op": "set_attributes", "seats": [["P", "1", "2"]], "attributes": ["companion"]},
            {"op": "relabel", "seat": ["P", "2", "4"], "number": "40"},
            {"op": "move", "seats": [["P", "2", "40"]], "dx": 10},
            {"op": "set_zone", "seats": [["P", "2", "1"], ["P", "2", "2"]], "zone": "Q"},
            {"op": "block", "seats": [["P", "2", "3"]], "reason": "technical"},
            {"op": "delete", "seats": [["P", "1", "4"]]},
        ]
    }
    r = await client.patch(f"{API}/seat-layouts/{lid}/seats", json=ops, headers=auth)
    assert r.status_code == 200, r.text
    got = (await client.get(f"{API}/seat-layouts/{lid}", headers=auth)).json()
    seats = {(s["section"], s["row"], s["number"]): s for s in got["map"]["seats"]}
    assert len(seats) == got["seat_count"] == r.json()["seat_count"]
    assert seats[("P", "1", "1")]["attributes"] == ["wheelchair"]
    assert seats[("P", "2", "40")]["x"] == seats[("P", "2", "3")]["x"] + 50 + 10
    assert seats[("P", "2", "1")]["zone"] == "Q" and seats[("P", "2", "3")]["blocked"] == "technical"
    assert ("P", "1", "4") not in seats

    # Another session of the same event's venue sells it.
    r = await client.post(
        f"{API}/events/{world.event_id}/sessions",
        json={
            "name": "Matinee",
            "starts_at": (runtime.clock.now() + timedelta(days=3)).isoformat(),
            "ends_at": (runtime.clock.now() + timedelta(days=3, hours=2)).isoformat(),
            "capacity": 5,
            "status": "on_sale",
        },
        headers=auth,
    )
    session_id = r.json()["id"]
    tt = await client.post(
        f"{API}/sessions/{session_id}/ticket-types", json={"name": "adult", "price_minor": 100}, headers=auth
    )
    r = await client.put(f"{API}/sessions/{session_id}/seating", json={"layout_id": lid}, headers=auth)
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["seat_count"] == got["seat_count"]
    assert [(z["zone"], z["total"], z["blocked"]) for z in summary["zones"]][0] == ("VIP", 5, 1)
    assert summary["totals"]["blocked"] == 1 and summary["totals"]["free"] == got["seat_count"] - 1
    prices = {"prices": [{"zone": "VIP", "ticket_type_id": tt.json()["id"], "price_minor": 128000}]}
    r = await client.put(f"{API}/sessions/{session_id}/zone-prices", json=prices, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["prices"] == [
        {
            "zone": "VIP",
            "ticket_type_id": tt.json()["id"],
            "ticket_type_name": "adult",
            "price_minor": 128000,
            "currency": "CNY",
        }
    ]
    session = (await client.get(f"{API}/sessions/{session_id}", headers=auth)).json()
    assert session["capacity"] == got["seat_count"]


async def test_export_then_import_gives_the_same_map_in_both_formats(runtime, client, tenant):
    world = await seating_world(
        runtime, tenant, blocked=[("A", "1", "1")], attributes={("B", "1", "1"): ["partial_view"]}
    )
    for fmt, media in (("json", "application/json"), ("csv", "text/csv")):
        r = await client.get(f"{API}/seat-layouts/{world.layout_id}/export?format={fmt}", headers=world.auth)
        assert r.status_code == 200 and r.headers["content-type"].startswith(media)
        assert "attachment" in r.headers["content-disposition"]
        before = (await client.get(f"{API}/seat-layouts/{world.layout_id}", headers=world.auth)).json()
        imported = await client.post(
            f"{API}/seat-layouts/{world.layout_id}/import?format={fmt}", content=r.content, headers=world.auth
        )
        assert imported.status_code == 200, imported.text
        after = (await client.get(f"{API}/seat-layouts/{world.layout_id}", headers=world.auth)).json()
        assert after["map"] == before["map"] and after["version"] == before["version"] + 1
    csv = (await client.get(f"{API}/seat-layouts/{world.layout_id}/export?format=csv", headers=world.auth)).text
    assert csv.splitlines()[0] == "section,row,number,x,y,zone,attributes,blocked"
    assert "A,1,1,0,0,A,,house" in csv.splitlines()


async def test_a_bad_import_reports_every_row_and_changes_nothing(runtime, client, tenant):
    world = await seating_world(runtime, tenant)
    before = await _state(runtime, client, world)
    body = _csv(
        "A,1,1,0,0,A,",
        "A,1,1,500,0,A,",  # the same labels again
        "A,1,2,5,0,A,",  # on top of A 1-1
        "A,1,3,100,0,C,",  # zone C is not one of the layout's
        "A,1,4,x,0,A,",
        "A,1,5,200,0,A,wheelchair;sunroof",
        "Z,1,1,300,0,A,",  # no section Z
    )
    r = await client.post(f"{API}/seat-layouts/{world.layout_id}/import?format=csv", content=body, headers=world.auth)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    problems = [(e["line"], e["field"], e["code"]) for e in r.json()["errors"]]
    assert problems == [
        (3, "number", "duplicate_label"),
        (4, "x", "overlapping_coordinates"),
        (5, "zone", "unknown_zone"),
        (6, "x", "bad_number"),
        (7, "attributes", "unknown_attribute"),
        (8, "section", "unknown_section"),
    ]
    # Naming the zones allows a new one; the rest is still refused, and a zh-CN reader gets Chinese messages.
    r = await client.post(
        f"{API}/seat-layouts/{world.layout_id}/import?format=csv&zones=A,B,C",
        content=body,
        headers={**world.auth, "Accept-Language": "zh-CN"},
    )
    assert r.status_code == 422 and "unknown_zone" not in {e["code"] for e in r.json()["errors"]}
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json()["errors"][0]["message"])
    bad_json = {"name": "X", "map": {"version": 1, "sections": [], "seats": [{"section": "A"}]}}
    r = await client.put(f"{API}/seat-layouts/{world.layout_id}", json=bad_json, headers=world.auth)
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} >= {"map.seats[0].row", "map.seats[0].x"}
    r = await client.post(f"{API}/seat-layouts/{world.layout_id}/import?format=json", content=b"{", headers=world.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "bad_json"
    await _unchanged(runtime, client, world, before)


async def test_bad_edits_and_sections_are_refused_whole(runtime, client, tenant):
    world = await seating_world(runtime, tenant)
    before = await _state(runtime, client, world)
    url = f"{API}/seat-layouts/{world.layout_id}"
    cases = [
        ({"ops": [{"op": "relabel", "seat": ["A", "1", "1"], "number": "2"}]}, "ops.0.number", "duplicate_label"),
        ({"ops": [{"op": "move", "seats": [["A", "1", "1"]], "dx": 50}]}, "seats[1].x", "overlapping_coordinates"),
        ({"ops": [{"op": "delete", "seats": [["A", "9", "9"]]}]}, "ops.0.seats.0", "unknown_seat"),
        ({"ops": [{"op": "set_zone", "seats": [["A", "1", "1"]], "zone": "=1+1"}]}, "ops.0.zone", "bad_label"),
        ({"ops": [{"op": "paint", "seats": [["A", "1", "1"]]}]}, "ops.0", "literal_error"),
        ({"ops": []}, "ops", "too_short"),
        ({"ops": None}, "ops", "value_error"),
    ]
    for body, field, code in cases:
        r = await client.patch(f"{url}/seats", json=body, headers=world.auth)
        assert r.status_code == 422, (body, r.text)
        assert (field, code) in {(e["field"], e["code"]) for e in r.json()["errors"]}, r.text
    # "at least 1": the counted message's singular in English, Chinese as before.
    r = await client.patch(f"{url}/seats?lang=en", json={"ops": []}, headers=world.auth)
    assert [e["message"] for e in r.json()["errors"]] == ["Send at least 1 item."]
    r = await client.patch(f"{url}/seats?lang=zh-CN", json={"ops": []}, headers=world.auth)
    assert [e["message"] for e in r.json()["errors"]] == ["请至少提供 1 项。"]
    same = await client.patch(f"{url}/seats", json={}, headers=world.auth)  # nothing to change
    assert same.status_code == 200 and same.json()["version"] == 1
    overlap = r = await client.patch(
        f"{url}/seats", json={"ops": [{"op": "move", "seats": [["A", "1", "1"]], "dx": 50}]}, headers=world.auth
    )
    assert overlap.json()["errors"][0]["seat"] in (["A", "1", "1"], ["A", "1", "2"])
    sections = [
        ({"kind": "rect", "section_id": "A", "rows": 1, "seats_per_row": 2, "origin": [0, 5000]}, "duplicate_section"),
        ({"kind": "rect", "section_id": "C", "rows": 1, "seats_per_row": 2}, "overlapping_coordinates"),
        ({"kind": "rect", "section_id": "C", "rows": 0, "seats_per_row": 2}, "out_of_range"),
        ({"kind": "arc", "section_id": "C", "rows": 1, "radius": 10, "angle_span": 270}, "out_of_range"),
        ({"kind": "dome", "section_id": "C", "rows": 1}, "literal_error"),
    ]
    for body, code in sections:
        r = await client.post(f"{url}/sections", json={"section": body}, headers=world.auth)
        assert r.status_code == 422, (body, r.text)
        assert code in {e["code"] for e in r.json()["errors"]}, r.text
    await _unchanged(runtime, client, world, before)


async def test_session_seating_bad_input(runtime, client, tenant):
    world = await seating_world(runtime, tenant)
    other = await seating_world(runtime, tenant)
    auth = world.auth
    base = f"{API}/sessions/{world.session_id}"
    before = await _state(runtime, client, world)
    bad_prices = {
        "prices": [
            {"zone": "Z", "ticket_type_id": world.adult_id, "price_minor": 100},
            {"zone": "A", "ticket_type_id": other.adult_id, "price_minor": 100},
            {"zone": "A", "ticket_type_id": world.adult_id, "price_minor": -5},
        ]
    }
    r = await client.put(f"{base}/zone-prices", json=bad_prices, headers=auth)
    assert r.status_code == 422
    assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [
        ("prices.0.zone", "unknown_zone"),
        ("prices.1.ticket_type_id", "unknown_ticket_type"),
        ("prices.2.price_minor", "out_of_range"),
    ]
    r = await client.post(
        f"{base}/seats/block", json={"seat_ids": [other.seat_ids[0]], "reason": "press"}, headers=auth
    )
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_seat"
    r = await client.post(f"{base}/seats/block", json={"seat_ids": [world.seat_ids[0]]}, headers=auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    # A layout of another venue is not found; so is an unknown one.
    r = await client.put(f"{base}/seating", json={"layout_id": other.layout_id}, headers=auth)
    assert r.status_code == 404
    await _unchanged(runtime, client, world, before)

    # Seats kept back and given back; a held seat cannot be kept back and locks the layout.
    a1, a2 = world.seat("A", "1", "1"), world.seat("A", "1", "2")
    r = await client.post(f"{base}/seats/block", json={"seat_ids": [a1], "reason": "press"}, headers=auth)
    assert r.status_code == 200 and r.json()["seats"][0]["blocked_reason"] == "press"
    async with runtime.uow() as uow:
        await inventory.reserve(
            uow,
            world.organizer_id,
            [Take(world.pool_id, 1)],
            claims=[Claim(a2, 1)],
            expires_at=uow.now() + timedelta(minutes=10),
        )
        await uow.commit()
    r = await client.post(f"{base}/seats/block", json={"seat_ids": [a1, a2], "reason": "house"}, headers=auth)
    assert r.status_code == 409 and r.json()["code"] == "legs_occupied" and r.json()["unit_ids"] == [a2]
    summary = (await client.get(f"{base}/seating", headers=auth)).json()
    assert summary["zones"][0] | {"prices": None} == {
        "zone": "A",
        "total": 30,
        "free": 28,
        "held": 1,
        "sold": 0,
        "blocked": 1,
        "prices": None,
    }
    r = await client.put(f"{base}/seating", json={"layout_id": world.layout_id}, headers=auth)
    assert r.status_code == 409 and r.json()["code"] == "seating_locked"
    r = await client.post(f"{base}/seats/release", json={"seat_ids": [a1], "reason": "press left"}, headers=auth)
    assert r.status_code == 200 and r.json()["seats"][0]["blocked_reason"] == ""
    r = await client.delete(f"{API}/seat-layouts/{world.layout_id}", headers=auth)
    assert r.status_code == 409 and r.json()["code"] == "layout_in_use"
    assert r.json()["session_ids"] == [world.session_id]


async def test_a_layout_no_session_uses_can_be_deleted(runtime, client, tenant):
    world = await seating_world(runtime, tenant)
    doc = json.loads(
        (await client.get(f"{API}/seat-layouts/{world.layout_id}/export?format=json", headers=world.auth)).text
    )
    r = await client.post(
        f"{API}/venues/{world.venue_id}/seat-layouts", json={"name": "Copy", "map": doc}, headers=world.auth
    )
    assert r.status_code == 201 and r.json()["seat_count"] == 60
    listed = (await client.get(f"{API}/venues/{world.venue_id}/seat-layouts", headers=world.auth)).json()
    assert [x["name"] for x in listed["items"]] == ["Copy", "音乐厅 Concert"]
    assert (await client.delete(f"{API}/seat-layouts/{r.json()['id']}", headers=world.auth)).status_code == 204
    assert (await client.get(f"{API}/seat-layouts/{r.json()['id']}", headers=world.auth)).status_code == 404


async def test_a_map_file_may_be_larger_than_other_bodies_but_not_unbounded(runtime, client, tenant):
    world = await seating_world(runtime, tenant)
    url = f"{API}/seat-layouts/{world.layout_id}/import?format=csv"
    padded = _csv("A,1,1,0,0,A,", "A,1,2,50,0,A,") + b"\n" * (1024 * 1024 + 10)  # blank lines are skipped
    r = await client.post(url, content=padded, headers=world.auth)
    assert r.status_code == 200 and r.json()["seat_count"] == 2, r.text[:300]
    r = await client.post(url, content=b"\n" * (16 * 1024 * 1024 + 1), headers=world.auth)
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    r = await client.put(f"{API}/sessions/{world.session_id}/zone-prices", content=padded, headers=world.auth)
    assert r.status_code == 413  # other routes keep the 1 MB limit
