"""After a seat exchange the old ticket's QR code and typed code are answered ``replaced`` at the gate — not
``invalid_ticket`` — with the seat the ticket is for now (never its new code), through the API and the gate page,
in both languages, on SQLite and PostgreSQL; the new code admits; another organizer learns nothing."""

from __future__ import annotations

from datetime import timedelta

import httpx

from piaowu.runtime import Runtime
from tests.integration.test_seat_exchange import API, exchange, sell
from tests.seating_world import seating_world
from tests.web.helpers import csrf_of, sign_in
from tests.web.test_gate_pages import scan_json, set_up


async def scan(client: httpx.AsyncClient, auth: dict, raw: str, lang: str = "en") -> dict:
    r = await client.post(f"{API}/checkin/scan", json={"raw": raw}, headers=auth | {"Accept-Language": lang})
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_old_code_answers_replaced_with_the_new_seat(
    runtime: Runtime,
    client: httpx.AsyncClient,
    other_tenant,  # noqa: ANN001
) -> None:
    world = await seating_world(runtime, starts_in=timedelta(hours=1))
    old = (await sell(client, world, world.seat("A", "1", "5")))["lines"][0]["ticket"]
    moved = await exchange(client, world, old["id"], world.seat("A", "2", "7"))
    assert moved.status_code == 200, moved.text
    new = moved.json()["ticket"]
    for raw in (old["qr_payload"], old["code"]):
        out = await scan(client, world.auth, raw)
        assert out["result"] == "replaced" and out["admitted"] is False, out
        assert out["new_seat"] == {"section": "A", "row": "2", "number": "7"}
        assert out["ticket"] is None and new["code"] not in str(out)  # the new code is not told
        assert out["message"] == "Replaced: this ticket was exchanged for another seat"
    zh = await scan(client, world.auth, old["code"], lang="zh-CN")
    assert zh["message"] == "已换座：此票已换到其他座位"
    # Another organizer's gate: the code is unknown there.
    foreign = await scan(client, other_tenant.auth, old["code"])
    assert foreign["result"] == "invalid_ticket" and foreign["new_seat"] is None
    # The new ticket admits, once; the old code still says replaced afterwards.
    assert (await scan(client, world.auth, new["qr_payload"]))["result"] == "admitted"
    assert (await scan(client, world.auth, old["qr_payload"]))["result"] == "replaced"
    scans = (await client.get(f"{API}/checkin/scans?limit=10", headers=world.auth)).json()
    assert [s["result"] for s in scans].count("replaced") == 4
    assert all(s["ticket_code"] is None for s in scans if s["result"] == "replaced")
    # Exchanged twice: the first code names the seat the ticket is for now.
    third = await exchange(client, world, old["id"], world.seat("A", "3", "1"))
    assert third.status_code == 409  # used at the gate: it keeps its seat


async def test_the_gate_page_shows_replaced_and_the_new_seat(runtime: Runtime, client: httpx.AsyncClient) -> None:
    world = await seating_world(runtime, starts_in=timedelta(hours=1))
    old = (await sell(client, world, world.seat("A", "1", "5")))["lines"][0]["ticket"]
    first = await exchange(client, world, old["id"], world.seat("A", "2", "7"))
    again = await exchange(client, world, first.json()["ticket"]["id"], world.seat("A", "3", "2"))
    assert again.status_code == 200, again.text
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    csrf = await set_up(client, "North 1", [world.session_id])
    body = (await scan_json(client, csrf, old["qr_payload"])).json()
    assert body["result"] == "replaced" and body["kind"] == "deny" and body["icon"] == "✗"
    assert body["title"] == "Replaced: this ticket was exchanged for another seat"
    assert "The ticket is now for seat: section A, row 3, seat 2" in body["details"]  # the seat it is for now
    assert body["code"] == ""
    zh = (await scan_json(client, csrf, first.json()["ticket"]["code"], lang="zh-CN")).json()
    assert zh["title"] == "已换座：此票已换到其他座位" and "现座位：A区 3排 2号" in zh["details"]
    assert zh["status"]["recent"][0]["title"] == "已换座：此票已换到其他座位"
    # Without JavaScript: the plain form, then the page shows the result.
    page = await client.get("/gate?lang=en")
    posted = await client.post("/gate/scan?lang=en", data={"csrf": csrf_of(page.text), "raw": old["code"]})
    assert posted.status_code == 303
    shown = await client.get(
        posted.headers["location"] + ("&" if "?" in posted.headers["location"] else "?") + "lang=en"
    )
    assert 'data-result="replaced"' in shown.text and "row 3, seat 2" in shown.text
