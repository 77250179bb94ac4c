"""Seated tickets, on SQLite and PostgreSQL: the ticket JSON, the signed QR payload, the PDF, the gate's answer
(API and gate page) all show section, row and seat; a general-admission ticket shows none."""

from __future__ import annotations

import io
from datetime import timedelta

from pypdf import PdfReader

from piaowu.organizers import keys
from piaowu.seating.availability import TAKEN, decode, unpack
from piaowu.tickets import signing
from tests.order_helpers import BUYER
from tests.seating_world import seating_world
from tests.web.helpers import csrf_of, sign_in


async def paid_seats(client, world, seats: list[str]) -> dict:  # noqa: ANN001
    item = {"product": "seat", "selection": {"ticket_type_id": world.adult_id, "seats": seats}}
    r = await client.post("/api/v1/shop/seat-theatre/orders", json={"items": [item], "buyer": BUYER})
    assert r.status_code == 201, r.text
    paid = await client.post(f"/api/v1/orders/{r.json()['id']}/pay", json={"method": "cash"}, headers=world.auth)
    assert paid.status_code == 200, paid.text
    return paid.json()


async def test_seat_on_the_ticket_the_qr_the_pdf_and_the_gate(runtime, client, clock):
    world = await seating_world(runtime)
    order = await paid_seats(client, world, [world.seat("A", "2", "7")])
    line = order["lines"][0]
    assert line["seat"] == {"section": "A", "row": "2", "number": "7"}
    code = line["ticket"]["code"]
    ticket = (await client.get(f"/api/v1/tickets/{code}", headers=world.auth)).json()
    assert ticket["seat"] == {"section": "A", "row": "2", "number": "7"}
    key = (await client.get("/api/v1/organizers/seat-theatre/public-key")).json()["public_key"]
    assert signing.verify(keys.load_public_key(key), ticket["qr_payload"]).seat == ("A", "2", "7")

    pdf = await client.get(f"/api/v1/orders/{order['id']}/tickets.pdf", headers=world.auth)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Section A Row 2 Seat 7" in text

    clock.advance(timedelta(days=7) - timedelta(minutes=30))  # inside the admission window
    scan = await client.post(
        "/api/v1/checkin/scan", json={"raw": ticket["qr_payload"], "gate": "East"}, headers=world.auth
    )
    assert scan.json()["admitted"] is True
    assert scan.json()["ticket"]["seat"] == {"section": "A", "row": "2", "number": "7"}

    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    page = await client.get("/gate?setup=1")
    await client.post("/gate/setup", data={"csrf": csrf_of(page.text), "gate_name": "N", "session_ids": []})
    csrf = csrf_of((await client.get("/gate")).text)
    for lang, expected in (("en", "Seat: section A, row 2, seat 7"), ("zh-CN", "座位：A区 2排 7号")):
        r = await client.post(
            f"/gate/scan?lang={lang}", json={"raw": code}, headers={"X-CSRF-Token": csrf, "Accept": "application/json"}
        )
        assert expected in r.json()["details"], r.json()


async def test_refunding_one_seat_frees_exactly_that_seat(runtime, client):
    world = await seating_world(runtime)
    seats = [world.seat("B", "1", n) for n in ("4", "5", "6")]
    order = await paid_seats(client, world, seats)
    middle = next(ln for ln in order["lines"] if ln["seat"]["number"] == "5")
    r = await client.post(
        f"/api/v1/orders/{order['id']}/refunds", json={"line_ids": [middle["id"]]}, headers=world.auth
    )
    assert r.status_code in (200, 201), r.text
    av = await client.get(f"/api/v1/shop/seat-theatre/sessions/{world.session_id}/seat-availability")
    states = unpack(decode(av.json()["states"]), len(world.seat_ids))
    taken = [world.seat_ids[i] for i, s in enumerate(states) if s == TAKEN]
    assert taken == [seats[0], seats[2]]
    assert av.json()["zones"]["B"] == {"free": 28, "total": 30}
    ticket = (await client.get(f"/api/v1/tickets/{middle['ticket']['code']}", headers=world.auth)).json()
    assert ticket["status"] != "valid"
    # The freed seat sells again; its neighbours stay sold.
    item = {"product": "seat", "selection": {"ticket_type_id": world.student_id, "seats": [seats[1]]}}
    again = await client.post("/api/v1/shop/seat-theatre/orders", json={"items": [item], "buyer": BUYER})
    assert again.status_code == 201
    item["selection"]["seats"] = [seats[0]]
    taken_again = await client.post("/api/v1/shop/seat-theatre/orders", json={"items": [item], "buyer": BUYER})
    assert taken_again.status_code == 409 and taken_again.json()["seats"][0]["number"] == "4"
