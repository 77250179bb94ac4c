"""The grants API (``/api/v1/ticket-types/{id}/grants``) and the check-in answer for a pass, over HTTP."""

from __future__ import annotations

from tests.factories import owner_actor
from tests.ticket_fixtures import at_the_door, attractions, issue_paid

PROBLEM = "application/problem+json"


async def test_set_and_read_a_types_grants(client, runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    a, b = await attractions(runtime, actor, 2)
    url = f"/api/v1/ticket-types/{a.ticket_type_id}/grants"
    empty = await client.get(url, headers=tenant.auth)
    assert empty.status_code == 200 and empty.json() == {"ticket_type_id": a.ticket_type_id, "grants": []}
    body = {
        "grants": [
            {"session_id": a.session_id},
            {"session_id": b.session_id, "allowed": 3},
            {"event_id": b.event_id, "mode": "days", "allowed": 2, "window_days": 7},
        ]
    }
    put = await client.put(url, json=body, headers=tenant.auth)
    assert put.status_code == 200, put.text
    got = (await client.get(url, headers=tenant.auth)).json()["grants"]
    assert [
        (g["position"], g["session_id"], g["event_id"], g["mode"], g["allowed"], g["window_days"]) for g in got
    ] == [
        (0, a.session_id, None, "entries", 1, None),
        (1, b.session_id, None, "entries", 3, None),
        (2, None, b.event_id, "days", 2, 7),
    ]
    cleared = await client.put(url, json={"grants": []}, headers=tenant.auth)
    assert cleared.status_code == 200 and cleared.json()["grants"] == []


async def test_bad_grants_are_problems_on_their_fields(client, runtime, tenant, other_tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    (a,) = await attractions(runtime, actor, 1)
    (theirs,) = await attractions(runtime, await owner_actor(runtime, other_tenant.owner_id), 1)
    url = f"/api/v1/ticket-types/{a.ticket_type_id}/grants"
    cases = [
        ({"session_id": theirs.session_id}, "grants.0.session_id"),  # another organizer's: not found
        ({"event_id": theirs.event_id, "window_days": 3}, "grants.0.event_id"),
        ({"session_id": a.session_id, "event_id": a.event_id}, "grants.0"),
        ({"event_id": a.event_id}, "grants.0.window_days"),
        ({"session_id": a.session_id, "allowed": 0}, "grants.0.allowed"),
        ({"session_id": a.session_id, "mode": "weeks"}, "grants.0.mode"),
        ({"session_id": a.session_id, "extra": 1}, "grants.0.extra"),
    ]
    for grant, field in cases:
        r = await client.put(url, json={"grants": [grant]}, headers=tenant.auth)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (grant, r.text)
        body = r.json()
        assert body["code"] == "validation_error"
        assert any(e["field"].startswith(field) for e in body["errors"]), (grant, body["errors"])
    assert (await client.get(url, headers=tenant.auth)).json()["grants"] == []  # nothing was stored
    for other in (f"/api/v1/ticket-types/{theirs.ticket_type_id}/grants", "/api/v1/ticket-types/nope/grants"):
        r = await client.get(other, headers=tenant.auth)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


async def test_the_check_in_answer_lists_a_pass_and_names_the_part_used(client, runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    a, b = await attractions(runtime, actor, 2)
    body = {"grants": [{"session_id": a.session_id}, {"session_id": b.session_id, "allowed": 2}]}
    r = await client.put(f"/api/v1/ticket-types/{a.ticket_type_id}/grants", json=body, headers=tenant.auth)
    assert r.status_code == 200
    issued = await issue_paid(runtime, actor, a)
    at_the_door(runtime, issued)
    scan = {"raw": issued.ticket.qr_payload, "gate": "B", "session_ids": [b.session_id]}
    out = (await client.post("/api/v1/checkin/scan", json=scan, headers=tenant.auth)).json()
    assert out["result"] == "admitted" and out["entitlement"] == 1 and out["reentry"] is False
    parts = out["ticket"]["entitlements"]
    assert [(p["position"], p["session_id"], p["used"], p["allowed"], p["last_gate"]) for p in parts] == [
        (0, a.session_id, 0, 1, ""),
        (1, b.session_id, 1, 2, "B"),
    ]
    assert parts[0]["label"].startswith("景点0")
    ticket = (await client.get(f"/api/v1/tickets/{issued.ticket.code}", headers=tenant.auth)).json()
    assert (ticket["entries_allowed"], ticket["entries_used"], len(ticket["entitlements"])) == (3, 1, 2)
