"""Tickets and check-in over HTTP, on SQLite and PostgreSQL: every scan result, tampering, tenancy."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import httpx
from pypdf import PdfReader

from piaowu.accounts import service as accounts
from piaowu.organizers import keys
from piaowu.tickets import service as tickets
from piaowu.tickets import signing
from tests.factories import on_sale_session, owner_actor
from tests.ticket_fixtures import at_the_door, issue_paid


async def scan(client: httpx.AsyncClient, auth: dict[str, str], raw: str, **extra: object) -> dict:
    r = await client.post("/api/v1/checkin/scan", json={"raw": raw, "gate": "East", **extra}, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


async def test_public_key_needs_no_token_and_verifies_tickets(client, runtime, tenant):
    issued = await issue_paid(runtime, await owner_actor(runtime, tenant.owner_id))
    r = await client.get(f"/api/v1/organizers/{tenant.slug}/public-key")
    assert r.status_code == 200
    body = r.json()
    assert body["algorithm"] == "Ed25519" and body["organizer_id"] == tenant.organizer_id
    claims = signing.verify(keys.load_public_key(body["public_key"]), issued.ticket.qr_payload)
    assert claims.code == issued.ticket.code
    missing = await client.get("/api/v1/organizers/nobody-here/public-key")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_admitted_then_already_checked_in_with_when_and_where(client, runtime, tenant, clock):
    issued = await issue_paid(runtime, await owner_actor(runtime, tenant.owner_id))
    at_the_door(runtime, issued)
    first = await scan(client, tenant.auth, issued.ticket.qr_payload, session_ids=[issued.sale.session_id])
    assert (first["result"], first["admitted"], first["message"]) == ("admitted", True, "已入场")
    assert first["ticket"]["code"] == issued.ticket.code and first["ticket"]["ticket_type_name"] == "A区 Zone A"
    clock.advance(timedelta(minutes=1))
    again = await client.post(
        "/api/v1/checkin/scan",
        json={"raw": issued.ticket.code, "gate": "West"},
        headers={**tenant.auth, "Accept-Language": "en"},
    )
    body = again.json()
    assert body["result"] == "already_checked_in" and body["admitted"] is False
    assert body["message"] == "Already checked in"
    assert body["previous"]["gate"] == "East" and body["previous"]["at"].startswith(first["scanned_at"][:19])


async def test_every_rejection_code(client, runtime, tenant, clock):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor, n=3)
    elsewhere = await on_sale_session(runtime, actor, name="Another show")
    t_ok, t_refund, t_void = issued.tickets

    clock.set(issued.starts_at - timedelta(hours=3))  # admission opens 2 h before the start
    early = await scan(client, tenant.auth, t_ok.qr_payload)
    assert early["result"] == "not_yet_valid" and early["opens_at"]

    at_the_door(runtime, issued)
    wrong = await scan(client, tenant.auth, t_ok.qr_payload, session_ids=[elsewhere.session_id])
    assert wrong["result"] == "wrong_session" and wrong["ticket"]["session_id"] == issued.sale.session_id

    async with runtime.uow() as uow:
        await tickets.void_tickets(uow, actor, tenant.organizer_id, [issued.line_ids[1]], status="refunded")
        await tickets.void_tickets(uow, actor, tenant.organizer_id, [issued.line_ids[2]], status="void")
        await uow.commit()
    assert (await scan(client, tenant.auth, t_refund.qr_payload))["result"] == "refunded"
    assert (await scan(client, tenant.auth, t_void.code))["result"] == "voided"

    for garbage in ["hello", "PW1.e30.e30", "ZZZZZZZZZZZZZZZZZZZZ", "\x02\x03\r\n"]:
        out = await scan(client, tenant.auth, garbage)
        assert out["result"] == "invalid_ticket" and out["ticket"] is None

    clock.set(issued.ends_at + timedelta(seconds=1))
    assert (await scan(client, tenant.auth, t_ok.qr_payload))["result"] == "expired"

    scans = await client.get("/api/v1/checkin/scans?limit=50", headers=tenant.auth)
    assert scans.status_code == 200 and len(scans.json()) == 9  # every scan recorded, admitted or not
    assert not any(s["result"] == "admitted" for s in scans.json())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_tampered_qr_is_invalid_and_does_not_touch_the_ticket(client, runtime, tenant):
    issued = await issue_paid(runtime, await owner_actor(runtime, tenant.owner_id), entries_allowed=1)
    at_the_door(runtime, issued)
    tag, body, sig = issued.ticket.qr_payload.split(".")
    claims = signing.TicketClaims.from_json(
        __import__("json").loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    )
    more = {**claims.to_json(), "n": 50}  # a forger wants fifty entries
    forged_body = _b64(__import__("json").dumps(more, separators=(",", ":"), sort_keys=True).encode())
    flipped_sig = bytearray(base64.urlsafe_b64decode(sig + "=="))
    flipped_sig[10] ^= 0xFF
    for forged in (f"{tag}.{forged_body}.{sig}", f"{tag}.{body}.{_b64(bytes(flipped_sig))}"):
        out = await scan(client, tenant.auth, forged)
        assert out["result"] == "invalid_ticket" and out["ticket"] is None
    assert (await scan(client, tenant.auth, issued.ticket.qr_payload))["result"] == "admitted"


async def test_another_organizer_can_neither_scan_nor_fetch_my_tickets(client, runtime, tenant, other_tenant):
    issued = await issue_paid(runtime, await owner_actor(runtime, tenant.owner_id))
    at_the_door(runtime, issued)
    code = issued.ticket.code
    for raw in (issued.ticket.qr_payload, code):
        out = await scan(client, other_tenant.auth, raw)
        assert out["result"] == "invalid_ticket" and out["ticket"] is None and out["previous"] is None
    for path in (
        f"/api/v1/tickets/{code}",
        f"/api/v1/tickets/{code}/qr.svg",
        f"/api/v1/tickets/{code}/qr.png",
        f"/api/v1/orders/{issued.order_id}/tickets.pdf",
    ):
        r = await client.get(path, headers=other_tenant.auth)
        assert r.status_code == 404, path  # not 403: the id is not confirmed
        assert r.headers["content-type"] == "application/problem+json"
    theirs = await client.get("/api/v1/checkin/scans", headers=other_tenant.auth)
    assert all(s["ticket_code"] is None for s in theirs.json())
    stats = (await client.get("/api/v1/checkin/stats", headers=other_tenant.auth)).json()
    assert stats["tickets"] == 0
    assert (await scan(client, tenant.auth, code))["result"] == "admitted"  # untouched by their scans


async def test_qr_images_and_pdf(client, runtime, tenant):
    issued = await issue_paid(runtime, await owner_actor(runtime, tenant.owner_id), n=2, buyer_name="赵六")
    code = issued.ticket.code
    svg = await client.get(f"/api/v1/tickets/{code}/qr.svg", headers=tenant.auth)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text and svg.headers["cache-control"] == "no-store"
    png = await client.get(f"/api/v1/tickets/{code.lower()}/qr.png?scale=2", headers=tenant.auth)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert (await client.get(f"/api/v1/tickets/{code}/qr.png?scale=0", headers=tenant.auth)).status_code == 422
    one = (await client.get(f"/api/v1/tickets/{code}", headers=tenant.auth)).json()
    assert one["qr_payload"] == issued.ticket.qr_payload

    pdf = await client.get(f"/api/v1/orders/{issued.order_id}/tickets.pdf", headers=tenant.auth)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f"tickets-{issued.order_code}.pdf" in pdf.headers["content-disposition"]
    reader = PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) == 2
    text = reader.pages[0].extract_text()
    assert issued.order_code in text and "赵六" in text and "180.00" in text


async def test_pdf_leaves_out_refunded_tickets_and_404s_without_any(client, runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor, n=2)
    async with runtime.uow() as uow:
        await tickets.void_tickets(uow, actor, tenant.organizer_id, issued.line_ids[:1])
        await uow.commit()
    pdf = await client.get(f"/api/v1/orders/{issued.order_id}/tickets.pdf", headers=tenant.auth)
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) == 1
    async with runtime.uow() as uow:
        await tickets.void_tickets(uow, actor, tenant.organizer_id, issued.line_ids)
        await uow.commit()
    none = await client.get(f"/api/v1/orders/{issued.order_id}/tickets.pdf", headers=tenant.auth)
    assert none.status_code == 404


async def test_tokens_and_roles(client, runtime, tenant):
    issued = await issue_paid(runtime, await owner_actor(runtime, tenant.owner_id))
    at_the_door(runtime, issued)
    assert (await client.post("/api/v1/checkin/scan", json={"raw": "x"})).status_code == 401
    async with runtime.uow() as uow:
        gate_token, _ = await accounts.create_token(uow, None, organizer_id=tenant.organizer_id, name="g", role="gate")
        await uow.commit()
    gate = {"Authorization": f"Bearer {gate_token}"}
    assert (await scan(client, gate, issued.ticket.code))["admitted"] is True
    denied = await client.get(f"/api/v1/orders/{issued.order_id}/tickets.pdf", headers=gate)
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    bad = await client.post("/api/v1/checkin/scan", json={"raw": "", "gate": "E"}, headers=gate)
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    stats = (await client.get(f"/api/v1/checkin/stats?session_id={issued.sale.session_id}", headers=gate)).json()
    assert (stats["tickets"], stats["checked_in"], stats["scans_admitted"]) == (1, 1, 1)
