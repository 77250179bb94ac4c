"""Malformed and disallowed requests: each gets a stable problem+json answer and writes nothing.

One table, one row per kind of bad request, with the exact status and ``code`` it gets; docs/api.md shows the
same table to clients. For every row the test also proves that nothing was written: every row the organizer
owns (pools, orders, tickets, payments, audit events…) and the shared tables (idempotency keys, outbox,
notifications) are compared before and after. The few rows that write by design say which table they touch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from piaowu.core.ids import new_id
from piaowu.models import Base, load_all_models
from piaowu.payments import sandbox_gateway as gw
from piaowu.workers import sweeper
from tests.order_helpers import BUYER, create_order
from tests.tenant_world import World, build_world, diff, snapshot

NO_BODY = object()
SHARED_TABLES = ("idempotency_keys", "outbox", "payment_notifications", "sandbox_gateway_transactions")
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Case:
    name: str
    method: str
    path: str
    status: int
    code: str  # the problem's `code`; for 200 answers, the verdict (`result`) or the plain-text answer
    json: Any = NO_BODY
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    fields: tuple[str, ...] = ()  # validation errors expected on these fields (`errors[].field`)
    writes: frozenset[str] = frozenset()  # tables this request writes by design


@dataclass
class Ctx:
    me: World
    them: World
    cancelled_order_id: str
    draft_session_id: str
    secret: str


def order_body(tt: str, qty: Any = 1, **buyer: Any) -> dict[str, Any]:
    return {"items": [{"ticket_type_id": tt, "quantity": qty}], "buyer": {**BUYER, **buyer}}


def series_body(**kw: Any) -> dict[str, Any]:
    base = {"first_date": "2026-07-01", "last_date": "2026-07-30", "start_times": ["09:00"], "duration_minutes": 480,
            "capacity": 100}  # fmt: skip
    return base | kw


def cases(c: Ctx) -> list[Case]:
    tt, session, event = c.me.ticket_type_id, c.me.session_id, c.me.event_id
    pending, paid = c.me.pending_order_id, c.me.paid_order_id
    shop = f"/api/v1/shop/{c.me.tenant.slug}"
    start = "2026-07-01T19:30:00+08:00"
    key = gw.merchant_key(c.secret)
    unknown_payment = orjson.dumps(
        {
            "notify_id": "N-unknown",
            "trade_no": "T-unknown",
            "merchant_ref": new_id(),
            "amount_minor": 100,
            "currency": "CNY",
            "trade_status": "TRADE_SUCCESS",
        }
    )
    tampered = c.me.qr_payload[:-3] + ("AAA" if not c.me.qr_payload.endswith("AAA") else "BBB")
    json_ct = {"content-type": "application/json"}
    return [
        # -- wrong types and shapes (orders) ------------------------------------------------------------
        Case("quantity is a word", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, "two"), fields=("items.0.quantity",)),
        Case("items is not a list", "POST", "/api/v1/orders", 422, "validation_error",
             json={"items": {"ticket_type_id": tt, "quantity": 1}, "buyer": BUYER}, fields=("items",)),
        Case("quantity 0", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, 0), fields=("items.0.quantity",)),
        Case("quantity -1", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, -1), fields=("items.0.quantity",)),
        Case("quantity 101", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, 101), fields=("items.0.quantity",)),
        Case("quantity 10**12", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, 10**12), fields=("items.0.quantity",)),
        Case("quantity 1.5", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, 1.5), fields=("items.0.quantity",)),
        Case("quantity above the ticket type's max per order (11 > 10)", "POST", "/api/v1/orders", 422,
             "invalid_quantity", json=order_body(tt, 11)),
        Case("more than 100 tickets in one order (60 + 60 of one type)", "POST", "/api/v1/orders", 422,
             "invalid_quantity",
             json={"items": [{"ticket_type_id": tt, "quantity": 60}] * 2, "buyer": BUYER}),
        Case("21 items (at most 20)", "POST", "/api/v1/orders", 422, "validation_error",
             json={"items": [{"ticket_type_id": tt, "quantity": 1}] * 21, "buyer": BUYER}, fields=("items",)),
        Case("empty items", "POST", "/api/v1/orders", 422, "validation_error",
             json={"items": [], "buyer": BUYER}, fields=("items",)),
        Case("missing buyer", "POST", "/api/v1/orders", 422, "validation_error",
             json={"items": [{"ticket_type_id": tt, "quantity": 1}]}, fields=("buyer",)),
        Case("blank buyer name", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, name="   "), fields=("buyer.name",)),
        Case("phone 123", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, phone="123"), fields=("buyer.phone",)),
        Case("phone abcdefg", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, phone="abcdefg"), fields=("buyer.phone",)),
        Case("phone +1 555 0100 (not a valid number)", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, phone="+1 555 0100"), fields=("buyer.phone",)),
        Case("phone 010 6552 9988 (a landline, not mobile)", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, phone="010 6552 9988"), fields=("buyer.phone",)),
        Case("e-mail without @", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, email="zhang.example.com"), fields=("buyer.email",)),
        Case("unknown field at the top", "POST", "/api/v1/orders", 422, "validation_error",
             json={**order_body(tt), "coupon": "FREE"}, fields=("coupon",)),
        Case("client tries to set the price of an item", "POST", "/api/v1/orders", 422, "validation_error",
             json={"items": [{"ticket_type_id": tt, "quantity": 1, "price_minor": 1}], "buyer": BUYER},
             fields=("items.0.price_minor",)),
        Case("malformed JSON", "POST", "/api/v1/orders", 422, "validation_error",
             content=b'{"items": [', headers=json_ct, fields=("body",)),
        Case("body not UTF-8", "POST", "/api/v1/orders", 422, "validation_error",
             content=b"\xff\xfe{", headers=json_ct, fields=("body",)),
        Case("empty body", "POST", "/api/v1/orders", 422, "validation_error",
             content=b"", headers=json_ct, fields=("body",)),
        Case("wrong content type (text/plain)", "POST", "/api/v1/orders", 422, "validation_error",
             content=orjson.dumps(order_body(tt)), headers={"content-type": "text/plain"}, fields=("body",)),
        Case("NUL character in a name", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, name="张\u0000三"), fields=("body",)),
        Case("NUL character in the URL", "GET", "/api/v1/orders/ab%00cd", 422, "validation_error", fields=("path",)),
        Case("body over 1 MiB", "POST", "/api/v1/orders", 413, "payload_too_large",
             content=b'{"items": [' + b" " * (1024 * 1024) + b"]}", headers=json_ct),
        # -- ids that do not exist, or belong to another organizer ---------------------------------------
        Case("unknown ticket type", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(new_id()), fields=("items.0.ticket_type_id",)),
        Case("another organizer's ticket type", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(c.them.ticket_type_id), fields=("items.0.ticket_type_id",)),
        Case("unknown order", "GET", f"/api/v1/orders/{new_id()}", 404, "not_found"),
        Case("another organizer's order", "GET", f"/api/v1/orders/{c.them.paid_order_id}", 404, "not_found"),
        Case("pay another organizer's order", "POST", f"/api/v1/orders/{c.them.pending_order_id}/pay", 404,
             "not_found", json={"method": "cash"}),
        Case("a 3,000-character order id", "GET", "/api/v1/orders/" + "x" * 3000, 404, "not_found"),
        Case("unknown session", "GET", f"/api/v1/sessions/{new_id()}", 404, "not_found"),
        Case("another organizer's session", "PATCH", f"/api/v1/sessions/{c.them.session_id}", 404, "not_found",
             json={"capacity": 1}),
        Case("unknown event", "POST", f"/api/v1/events/{new_id()}/sessions", 404, "not_found",
             json={"starts_at": start, "ends_at": "2026-07-01T22:00:00+08:00", "capacity": 10}),
        Case("another organizer's ticket (by code)", "GET", f"/api/v1/tickets/{c.them.ticket_code}", 404, "not_found"),
        Case("unknown route", "GET", "/api/v1/nothing-here", 404, "not_found"),
        Case("method not allowed", "DELETE", f"/api/v1/orders/{pending}", 405, "method_not_allowed"),
        # -- lists ------------------------------------------------------------------------------------
        Case("invalid cursor", "GET", "/api/v1/orders", 422, "validation_error",
             params={"cursor": "!!not-a-cursor"}, fields=("cursor",)),
        Case("hand-made cursor without a time zone", "GET", "/api/v1/events", 422, "validation_error",
             params={"cursor": "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwieCJd"}, fields=("cursor",)),
        Case("limit=0", "GET", "/api/v1/orders", 422, "validation_error", params={"limit": 0}, fields=("limit",)),
        Case("limit=10000", "GET", "/api/v1/events", 422, "validation_error",
             params={"limit": 10000}, fields=("limit",)),
        Case("since is not a date", "GET", "/api/v1/checkin/stats", 422, "validation_error",
             params={"since": "yesterday"}, fields=("since",)),
        # -- idempotency --------------------------------------------------------------------------------
        Case("Idempotency-Key reused with a different body", "POST", "/api/v1/orders", 422,
             "idempotency_key_reused", json=order_body(tt, 3), headers={"Idempotency-Key": "key-1"}),
        Case("Idempotency-Key over 200 characters", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt), headers={"Idempotency-Key": "k" * 201}, fields=("Idempotency-Key",)),
        # -- catalog ------------------------------------------------------------------------------------
        Case("session ends before it starts", "POST", f"/api/v1/events/{event}/sessions", 422, "validation_error",
             json={"starts_at": start, "ends_at": "2026-07-01T18:00:00+08:00", "capacity": 10},
             fields=("ends_at",)),
        Case("session time without a time zone", "POST", f"/api/v1/events/{event}/sessions", 422,
             "validation_error", json={"starts_at": "2026-07-01T19:30:00", "ends_at": start, "capacity": 10},
             fields=("starts_at",)),
        Case("capacity below what is sold and held", "PATCH", f"/api/v1/sessions/{session}", 422,
             "validation_error", json={"capacity": 2}, fields=("capacity",)),
        Case("new capacity and an end before the start: neither is saved", "PATCH", f"/api/v1/sessions/{session}",
             422, "validation_error", json={"capacity": 500, "ends_at": "2020-01-01T00:00:00Z"},
             fields=("ends_at",)),
        Case("status draft → paused (not allowed)", "PATCH", f"/api/v1/sessions/{c.draft_session_id}", 409,
             "invalid_state", json={"status": "paused"}),
        Case("unknown session status", "PATCH", f"/api/v1/sessions/{session}", 422, "validation_error",
             json={"status": "sold_out_forever"}, fields=("status",)),
        Case("price as a string with decimals", "POST", f"/api/v1/sessions/{session}/ticket-types", 422,
             "validation_error", json={"name": "VIP", "price_minor": "18.00"}, fields=("price_minor",)),
        Case("price as a float", "POST", f"/api/v1/sessions/{session}/ticket-types", 422, "validation_error",
             json={"name": "VIP", "price_minor": 180.5}, fields=("price_minor",)),
        Case("negative price", "POST", f"/api/v1/sessions/{session}/ticket-types", 422, "validation_error",
             json={"name": "VIP", "price_minor": -100}, fields=("price_minor",)),
        Case("min per order above max", "PATCH", f"/api/v1/ticket-types/{tt}", 422, "validation_error",
             json={"min_per_order": 5, "max_per_order": 2}, fields=("max_per_order",)),
        Case("sort order beyond any database integer", "PATCH", f"/api/v1/ticket-types/{tt}", 422,
             "validation_error", json={"sort_order": 10**20}, fields=("sort_order",)),
        # -- sessions in series and event ticket types -----------------------------------------------------
        Case("series over the cap (2 years daily)", "POST", f"/api/v1/events/{event}/series", 422,
             "too_many_sessions", json=series_body(last_date="2027-12-31")),
        Case("series on no day (a weekend rule over Monday to Friday)", "POST", f"/api/v1/events/{event}/series",
             422, "empty_series", json=series_body(last_date="2026-07-03", weekdays=[5, 6])),
        Case("series ending before it starts", "POST", f"/api/v1/events/{event}/series", 422, "validation_error",
             json=series_body(last_date="2026-06-01"), fields=("last_date",)),
        Case("series in an unknown time zone", "POST", f"/api/v1/events/{event}/series", 422, "validation_error",
             json=series_body(timezone="Mars/Olympus"), fields=("timezone",)),
        Case("series on weekday 7", "POST", f"/api/v1/events/{event}/series", 422, "validation_error",
             json=series_body(weekdays=[7]), fields=("weekdays.0",)),
        Case("series at 25:00", "POST", f"/api/v1/events/{event}/series", 422, "validation_error",
             json=series_body(start_times=["25:00"]), fields=("start_times.0",)),
        Case("series of cancelled sessions", "POST", f"/api/v1/events/{event}/series", 422, "validation_error",
             json=series_body(status="cancelled"), fields=("status",)),
        Case("series dry_run as a string", "POST", f"/api/v1/events/{event}/series", 422, "validation_error",
             json=series_body(dry_run="yes"), fields=("dry_run",)),
        Case("series for another organizer's event", "POST", f"/api/v1/events/{c.them.event_id}/series", 404,
             "not_found", json=series_body()),
        Case("event ticket type priced as a float", "POST", f"/api/v1/events/{event}/ticket-types", 422,
             "validation_error", json={"name": "VIP", "price_minor": 180.5}, fields=("price_minor",)),
        Case("event ticket type: min per order above max", "PATCH",
             f"/api/v1/event-ticket-types/{c.me.event_ticket_type_id}", 422, "validation_error",
             json={"min_per_order": 5, "max_per_order": 2}, fields=("max_per_order",)),
        # -- order flow -----------------------------------------------------------------------------------
        Case("pay a cancelled order at the counter", "POST", f"/api/v1/orders/{c.cancelled_order_id}/pay", 409,
             "invalid_state", json={"method": "cash"}),
        Case("start an online payment for a cancelled order", "POST",
             f"/api/v1/orders/{c.cancelled_order_id}/payments", 409, "invalid_state", json={}),
        Case("pay an order that is already paid", "POST", f"/api/v1/orders/{paid}/pay", 409, "invalid_state",
             json={"method": "cash"}),
        Case("cancel a paid order", "POST", f"/api/v1/orders/{paid}/cancel", 409, "invalid_state"),
        Case("refund an unpaid order", "POST", f"/api/v1/orders/{pending}/refunds", 409, "refund_not_allowed",
             json={}),
        Case("refund a line of another order", "POST", f"/api/v1/orders/{paid}/refunds", 422, "validation_error",
             json={"line_ids": [new_id()]}, fields=("line_ids",)),
        Case("unknown counter payment method", "POST", f"/api/v1/orders/{pending}/pay", 422, "validation_error",
             json={"method": "bitcoin"}, fields=("method",)),
        Case("cash tendered below the total", "POST", f"/api/v1/orders/{pending}/pay", 422, "validation_error",
             json={"method": "cash", "tendered_minor": 1}, fields=("tendered_minor",)),
        Case("unknown online provider", "POST", f"/api/v1/orders/{pending}/payments", 422, "validation_error",
             json={"provider": "paypal"}, fields=("provider",)),
        # -- shop -----------------------------------------------------------------------------------------
        Case("shop: unknown organizer", "GET", "/api/v1/shop/no-such-shop/events", 404, "not_found"),
        Case("shop: lookup with the wrong contact", "POST", f"{shop}/orders/lookup", 404, "order_not_found",
             json={"code": c.me.pending_order_code, "contact": "13900000000"}),
        Case("shop: lookup with another organizer's order number", "POST", f"{shop}/orders/lookup", 404,
             "order_not_found", json={"code": c.them.paid_order_code, "contact": BUYER["phone"]}),
        Case("shop: order number too short", "POST", f"{shop}/orders/lookup", 422, "validation_error",
             json={"code": "AB", "contact": BUYER["phone"]}, fields=("code",)),
        Case("shop: buy another organizer's ticket type", "POST", f"{shop}/orders", 422, "validation_error",
             json=order_body(c.them.ticket_type_id), fields=("items.0.ticket_type_id",)),
        # -- issue 5: strict JSON types, closed filters, names, null in PATCH, URLs, time range ------------
        Case("quantity true (a boolean is not a number)", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, True), fields=("items.0.quantity",)),
        Case('quantity "2" (a string is not a number)', "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, "2"), fields=("items.0.quantity",)),
        Case('capacity "10"', "POST", f"/api/v1/events/{event}/sessions", 422, "validation_error",
             json={"starts_at": start, "ends_at": "2026-07-01T22:00:00+08:00", "capacity": "10"},
             fields=("capacity",)),
        Case('is_published "yes"', "PATCH", f"/api/v1/events/{event}", 422, "validation_error",
             json={"is_published": "yes"}, fields=("is_published",)),
        Case("is_published 1", "PATCH", f"/api/v1/events/{event}", 422, "validation_error",
             json={"is_published": 1}, fields=("is_published",)),
        Case('tendered_minor "500"', "POST", f"/api/v1/orders/{pending}/pay", 422, "validation_error",
             json={"method": "cash", "tendered_minor": "500"}, fields=("tendered_minor",)),
        Case("orders filtered by an unknown status", "GET", "/api/v1/orders", 422, "validation_error",
             params={"status": "bogus"}, fields=("status",)),
        Case("audit events filtered by an unknown subject type", "GET", "/api/v1/audit-events", 422,
             "validation_error", params={"subject_type": "bogus"}, fields=("subject_type",)),
        Case("buyer name with a right-to-left override", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, name="张三\u202egpj.exe"), fields=("buyer.name",)),
        Case("buyer name with a control character (BEL)", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, name="张\u0007三"), fields=("buyer.name",)),
        Case("buyer name with a C1 control character", "POST", "/api/v1/orders", 422, "validation_error",
             json=order_body(tt, name="张\u009b三"), fields=("buyer.name",)),
        Case("event name with a bidi isolate", "POST", "/api/v1/events", 422, "validation_error",
             json={"name": "Show \u2067x\u2069"}, fields=("name",)),
        Case("session name with a line break", "PATCH", f"/api/v1/sessions/{session}", 422, "validation_error",
             json={"name": "Evening\nshow"}, fields=("name",)),
        Case("ticket type name with an override", "PATCH", f"/api/v1/ticket-types/{tt}", 422, "validation_error",
             json={"name": "VIP\u202d"}, fields=("name",)),
        Case("token name with a control character", "POST", "/api/v1/tokens", 422, "validation_error",
             json={"name": "bot\u001b[31m", "role": "sales"}, fields=("name",)),
        Case("staff name with an override", "POST", "/api/v1/staff", 422, "validation_error",
             json={"name": "Li\u202e", "email": "li@example.com", "password": "long enough", "role": "sales"},
             fields=("name",)),
        Case("gate name with a control character", "POST", "/api/v1/checkin/scan", 422, "validation_error",
             json={"raw": "ABCD", "gate": "main\u0008"}, fields=("gate",)),
        Case("blank event name (spaces only)", "POST", "/api/v1/events", 422, "validation_error",
             json={"name": "   "}, fields=("name",)),
        Case("PATCH ticket type name to spaces", "PATCH", f"/api/v1/ticket-types/{tt}", 422, "validation_error",
             json={"name": "  "}, fields=("name",)),
        Case("PATCH event name null", "PATCH", f"/api/v1/events/{event}", 422, "validation_error",
             json={"name": None}, fields=("name",)),
        Case("PATCH event is_published null", "PATCH", f"/api/v1/events/{event}", 422, "validation_error",
             json={"is_published": None}, fields=("is_published",)),
        Case("PATCH session capacity null", "PATCH", f"/api/v1/sessions/{session}", 422, "validation_error",
             json={"capacity": None}, fields=("capacity",)),
        Case("PATCH session starts_at null", "PATCH", f"/api/v1/sessions/{session}", 422, "validation_error",
             json={"starts_at": None}, fields=("starts_at",)),
        Case("PATCH ticket type price null", "PATCH", f"/api/v1/ticket-types/{tt}", 422, "validation_error",
             json={"price_minor": None}, fields=("price_minor",)),
        Case("PATCH ticket type max_per_order null", "PATCH", f"/api/v1/ticket-types/{tt}", 422,
             "validation_error", json={"max_per_order": None}, fields=("max_per_order",)),
        Case("return_url javascript:", "POST", f"/api/v1/orders/{pending}/payments", 422, "validation_error",
             json={"return_url": "javascript:alert(document.cookie)"}, fields=("return_url",)),
        Case("return_url on another site", "POST", f"/api/v1/orders/{pending}/payments", 422, "validation_error",
             json={"return_url": "https://evil.example/phish"}, fields=("return_url",)),
        Case("return_url with credentials", "POST", f"/api/v1/orders/{pending}/payments", 422, "validation_error",
             json={"return_url": "http://127.0.0.1:8000@evil.example/"}, fields=("return_url",)),
        Case("shop: return_url javascript:", "POST", f"{shop}/orders/{c.me.pending_order_code}/payments", 422,
             "validation_error", json={"contact": BUYER["phone"], "return_url": "javascript:alert(1)"},
             fields=("return_url",)),
        Case("shop: return_url data:", "POST", f"{shop}/orders/{c.me.pending_order_code}/payments", 422,
             "validation_error", json={"contact": BUYER["phone"], "return_url": "data:text/html,<script>1</script>"},
             fields=("return_url",)),
        Case("session starting in year 1 (+08:00)", "POST", f"/api/v1/events/{event}/sessions", 422,
             "validation_error", json={"starts_at": "0001-01-01T00:00:00+08:00", "ends_at": start, "capacity": 5},
             fields=("starts_at",)),
        Case("session ending in year 9999 (-08:00)", "POST", f"/api/v1/events/{event}/sessions", 422,
             "validation_error", json={"starts_at": start, "ends_at": "9999-12-31T23:59:59-08:00", "capacity": 5},
             fields=("ends_at",)),
        Case("PATCH session end to year 9999 (-08:00)", "PATCH", f"/api/v1/sessions/{session}", 422,
             "validation_error", json={"ends_at": "9999-12-31T23:59:59-08:00"}, fields=("ends_at",)),
        Case("sales start before 1970", "PATCH", f"/api/v1/sessions/{session}", 422, "validation_error",
             json={"sales_start": "1969-12-31T23:59:59Z"}, fields=("sales_start",)),
        Case("check-in stats since year 1 (+08:00)", "GET", "/api/v1/checkin/stats", 422, "validation_error",
             params={"since": "0001-01-01T00:00:00+08:00"}, fields=("since",)),
        # -- check-in -------------------------------------------------------------------------------------
        Case("tampered QR code (a rejected scan is recorded)", "POST", "/api/v1/checkin/scan", 200,
             "invalid_ticket", json={"raw": tampered}, writes=frozenset({"checkin_scans"})),
        Case("empty scan", "POST", "/api/v1/checkin/scan", 422, "validation_error", json={"raw": ""},
             fields=("raw",)),
        # -- payment notifications ------------------------------------------------------------------------
        Case("forged notification signature", "POST", "/api/v1/payments/notify/sandbox", 400, "invalid_signature",
             content=unknown_payment, headers={gw.SIGNATURE_HEADER: "0" * 64}),
        Case("notification without a signature", "POST", "/api/v1/payments/notify/sandbox", 400,
             "invalid_signature", content=unknown_payment),
        Case("signed notification with a garbled body", "POST", "/api/v1/payments/notify/sandbox", 400,
             "invalid_signature", content=b"garbage", headers={gw.SIGNATURE_HEADER: gw.sign(key, b"garbage")}),
        Case("signed notification for an unknown payment (logged, nothing else)", "POST",
             "/api/v1/payments/notify/sandbox", 200, "success", content=unknown_payment,
             headers={gw.SIGNATURE_HEADER: gw.sign(key, unknown_payment)},
             writes=frozenset({"payment_notifications"})),
        Case("notification for an unknown provider", "POST", "/api/v1/payments/notify/paypal", 422,
             "validation_error", content=b"{}", fields=("provider",)),
    ]  # fmt: skip


async def shared_counts(rt) -> dict[str, int]:  # noqa: ANN001
    load_all_models()
    out = {}
    async with rt.uow(readonly=True) as uow:
        for name in SHARED_TABLES:
            table = Base.metadata.tables[name]
            out[name] = (await uow.session.execute(select(func.count()).select_from(table))).scalar_one()
    return out


@pytest.fixture
async def ctx(runtime, client, tenant, other_tenant) -> Ctx:
    me = await build_world(runtime, client, tenant)
    them = await build_world(runtime, client, other_tenant)
    cancelled = (await create_order(client, me.auth, me.ticket_type_id, 1)).json()
    r = await client.post(f"/api/v1/orders/{cancelled['id']}/cancel", headers=me.auth)
    assert r.status_code == 200, r.text
    draft = await client.post(
        f"/api/v1/events/{me.event_id}/sessions",
        json={"starts_at": "2026-08-01T19:30:00+08:00", "ends_at": "2026-08-01T22:00:00+08:00", "capacity": 5},
        headers=me.auth,
    )
    assert draft.status_code == 201 and draft.json()["status"] == "draft", draft.text
    first = await create_order(client, me.auth, me.ticket_type_id, 1, headers={"Idempotency-Key": "key-1"})
    assert first.status_code == 201
    return Ctx(me, them, cancelled["id"], draft.json()["id"], runtime.secret_key)


async def _send(client, case: Case, auth: dict[str, str], lang: str):  # noqa: ANN001, ANN202
    kwargs: dict[str, Any] = {"params": case.params, "headers": {**auth, "Accept-Language": lang, **case.headers}}
    if case.json is not NO_BODY:
        kwargs["json"] = case.json
    elif case.content is not None:
        kwargs["content"] = case.content
    return await client.request(case.method, case.path, **kwargs)


def _check_answer(case: Case, r) -> list[str]:  # noqa: ANN001
    where = f"{case.name}: {case.method} {case.path[:60]} →"
    if r.status_code != case.status:
        return [f"{where} {r.status_code} (expected {case.status}) {r.text[:300]}"]
    if case.status == 200:
        got = r.json().get("result") if r.headers["content-type"].startswith("application/json") else r.text
        return [] if got == case.code else [f"{where} answered {got!r}, expected {case.code!r}"]
    if r.headers.get("content-type") != "application/problem+json":
        return [f"{where} content-type {r.headers.get('content-type')}"]
    body = r.json()
    problems = []
    if body.get("code") != case.code or body.get("status") != case.status:
        problems.append(f"{where} code {body.get('code')!r} status {body.get('status')} (expected {case.code!r})")
    if not body.get("title") or not body.get("type", "").endswith("/" + body.get("code", "")):
        problems.append(f"{where} title/type missing: {body}")
    if case.code == "validation_error":
        errs = body.get("errors") or []
        if not errs or not all(e.get("field") and e.get("code") and e.get("message") for e in errs):
            problems.append(f"{where} per-field errors missing: {body}")
        fields = {e.get("field") for e in errs}
        if not set(case.fields) <= fields:
            problems.append(f"{where} errors on {sorted(fields)}, expected {list(case.fields)}")
    return problems


async def test_every_malformed_request_gets_its_documented_problem_and_writes_nothing(runtime, client, ctx):
    problems: list[str] = []
    theirs_before = await snapshot(runtime, ctx.them.tenant.organizer_id)
    table = cases(ctx)
    assert len({c.name for c in table}) == len(table)
    for case in table:
        before, shared_before = await snapshot(runtime, ctx.me.tenant.organizer_id), await shared_counts(runtime)
        r = await _send(client, case, ctx.me.auth, "en")
        problems += _check_answer(case, r)
        if r.status_code != 200:  # English was asked for; names put into the sentence may be Chinese
            title = r.json().get("title", "")
            for value in r.json().values():
                title = title.replace(value, "") if isinstance(value, str) and value != title else title
            if CJK.search(title):
                problems.append(f"{case.name}: an English title was asked for: {r.json()['title']}")
        changed = [d for d in diff(before, await snapshot(runtime, ctx.me.tenant.organizer_id))]
        changed = [d for d in changed if d.split(" ", 1)[0].rstrip(":") not in case.writes]
        shared_after = await shared_counts(runtime)
        changed += [
            f"{t}: {shared_before[t]} → {shared_after[t]} rows"
            for t in SHARED_TABLES
            if shared_after[t] != shared_before[t] and t not in case.writes
        ]
        problems += [f"{case.name}: wrote {d}" for d in changed]
    problems += [f"the other organizer's data changed: {d}" for d in diff(theirs_before, await snapshot(
        runtime, ctx.them.tenant.organizer_id))]  # fmt: skip
    assert not problems, "\n".join(problems)


async def test_titles_and_field_messages_follow_accept_language(client, ctx):
    by_name = {c.name: c for c in cases(ctx)}
    phone = by_name["phone 010 6552 9988 (a landline, not mobile)"]
    zh = (await _send(client, phone, ctx.me.auth, "zh-CN,zh;q=0.9,en;q=0.5")).json()
    assert zh["title"] == "部分字段无效。"
    assert zh["errors"] == [
        {"field": "buyer.phone", "code": "value_error", "message": "请输入手机号码（电子票将通过短信发送）。"}
    ]
    en = (await _send(client, phone, ctx.me.auth, "en-US,en;q=0.8")).json()
    assert en["title"] == "Some fields are not valid."
    assert en["errors"][0]["message"] == "Enter a mobile number (we send tickets by SMS)."

    quantity = by_name["quantity 101"]
    zh = (await _send(client, quantity, ctx.me.auth, "zh-CN")).json()
    assert zh["errors"][0]["message"] == "请输入不大于 100 的值。"
    missing = (await _send(client, by_name["missing buyer"], ctx.me.auth, "zh-CN")).json()
    assert missing["errors"][0]["message"] == "此项必填。"

    for name in ("another organizer's order", "refund an unpaid order", "status draft → paused (not allowed)"):
        zh = (await _send(client, by_name[name], ctx.me.auth, "zh-CN")).json()
        en = (await _send(client, by_name[name], ctx.me.auth, "en")).json()
        assert CJK.search(zh["title"]) and not re.search(r"[a-z]{3,}", zh["title"]), zh
        assert not CJK.search(en["title"]) and zh["code"] == en["code"], en
    # The words put into a sentence are translated too, while the body keeps the machine values.
    zh = (await _send(client, by_name["another organizer's order"], ctx.me.auth, "zh-CN")).json()
    assert zh["title"] == "找不到该订单。" and zh["kind"] == "order"


async def test_an_expired_hold_cannot_be_paid_before_or_after_the_sweeper(runtime, client, clock, ctx):
    """Documented: past ``expires_at`` a payment start is ``410 hold_expired`` until the sweeper closes the
    order, then ``409 invalid_state`` (the order is ``expired``). Neither writes anything."""
    me = ctx.me
    shop_pay = f"/api/v1/shop/{me.tenant.slug}/orders/{me.pending_order_code}/payments"
    clock.advance(timedelta(minutes=16))
    for expected in ("hold_expired", "invalid_state"):
        before, shared = await snapshot(runtime, me.tenant.organizer_id), await shared_counts(runtime)
        staff = await client.post(f"/api/v1/orders/{me.pending_order_id}/payments", json={}, headers=me.auth)
        buyer = await client.post(shop_pay, json={"contact": BUYER["phone"]})
        for r in (staff, buyer):
            assert r.status_code == (410 if expected == "hold_expired" else 409), r.text
            assert r.json()["code"] == expected
        assert diff(before, await snapshot(runtime, me.tenant.organizer_id)) == []
        assert await shared_counts(runtime) == shared
        await sweeper.expire_orders(runtime)
    got = (await client.get(f"/api/v1/orders/{me.pending_order_id}", headers=me.auth)).json()
    assert got["status"] == "expired"
