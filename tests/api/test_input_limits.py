"""Issue 5, "input that must be refused" and "show the truth", on both databases (the ``db_url`` fixture):

- every length the API documents holds at the limit and is refused one past it (422, nothing written);
- searches are literal (``%`` and ``_`` match themselves);
- a ticket type without a quota reports its own sales, not the session's;
- an API token's ``last_used_at`` is written when it is used (at most once a minute).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from piaowu.accounts import service as accounts
from tests.order_helpers import BUYER, create_order
from tests.tenant_world import World, build_world, diff, snapshot

START, END = "2026-07-01T19:30:00+08:00", "2026-07-01T22:00:00+08:00"


@pytest.fixture
async def world(runtime, client, tenant) -> World:
    return await build_world(runtime, client, tenant)


@dataclass
class Limit:
    name: str
    method: str
    path: Callable[[World], str]
    body: Callable[[World, str], Any]  # the request with ``value`` in the limited field
    field: str
    length: int
    char: str = "名"  # CJK: PostgreSQL counts characters, not bytes; a multi-byte character is the harder case
    header: str | None = None  # the limited value goes in this header instead of the body


def _session(w: World, name: str) -> dict[str, Any]:
    return {"name": name, "starts_at": START, "ends_at": END, "capacity": 5}


LIMITS = [
    Limit("event name", "POST", lambda w: "/api/v1/events", lambda w, v: {"name": v}, "name", 200),
    Limit("event venue name", "POST", lambda w: "/api/v1/events", lambda w, v: {"name": "x", "venue_name": v},
          "venue_name", 200),
    Limit("event venue address", "POST", lambda w: "/api/v1/events",
          lambda w, v: {"name": "x", "venue_name": "Hall", "venue_address": v}, "venue_address", 500),
    Limit("event description", "POST", lambda w: "/api/v1/events", lambda w, v: {"name": "x", "description": v},
          "description", 20_000),
    # The session's pool label is derived from the event's and the session's names: both at their limit.
    Limit("session name (event name at its limit too)", "POST", lambda w: f"/api/v1/events/{w.event_id}/sessions",
          _session, "name", 200),
    Limit("ticket type name", "POST", lambda w: f"/api/v1/sessions/{w.session_id}/ticket-types",
          lambda w, v: {"name": v, "price_minor": 100, "quota": 5}, "name", 200),
    Limit("ticket type description", "POST", lambda w: f"/api/v1/sessions/{w.session_id}/ticket-types",
          lambda w, v: {"name": "x", "price_minor": 100, "description": v}, "description", 2000),
    Limit("buyer name", "POST", lambda w: "/api/v1/orders",
          lambda w, v: {"items": [{"ticket_type_id": w.ticket_type_id, "quantity": 1}],
                        "buyer": {**BUYER, "name": v}}, "buyer.name", 100),
    Limit("refund reason", "POST", lambda w: f"/api/v1/orders/{w.paid_order_id}/refunds",
          lambda w, v: {"reason": v}, "reason", 200),
    Limit("token name", "POST", lambda w: "/api/v1/tokens", lambda w, v: {"name": v, "role": "sales"}, "name", 200),
    Limit("staff name", "POST", lambda w: "/api/v1/staff",
          lambda w, v: {"name": v, "email": f"s{len(v)}@example.com", "password": "long enough", "role": "sales"},
          "name", 200),
    Limit("gate name", "POST", lambda w: "/api/v1/checkin/scan", lambda w, v: {"raw": "NOSUCHCODE", "gate": v},
          "gate", 64),
    Limit("Idempotency-Key", "POST", lambda w: "/api/v1/orders",
          lambda w, v: {"items": [{"ticket_type_id": w.ticket_type_id, "quantity": 1}], "buyer": BUYER},
          "Idempotency-Key", 200, char="k", header="Idempotency-Key"),
]  # fmt: skip


@pytest.mark.parametrize("limit", LIMITS, ids=lambda x: x.name)
async def test_every_documented_length_holds_at_the_limit_and_is_refused_past_it(runtime, client, world, limit):
    if limit.name.startswith("session name"):  # make the derived label as long as it can be
        r = await client.patch(f"/api/v1/events/{world.event_id}", json={"name": "演" * 200}, headers=world.auth)
        assert r.status_code == 200, r.text

    async def send(value: str):  # noqa: ANN202
        headers = dict(world.auth)
        body = limit.body(world, "ok" if limit.header else value)
        if limit.header:
            headers[limit.header] = value
        return await client.request(limit.method, limit.path(world), json=body, headers=headers)

    before = await snapshot(runtime, world.tenant.organizer_id)
    past = await send(limit.char * (limit.length + 1))
    assert past.status_code == 422, past.text
    assert limit.field in {e["field"] for e in past.json()["errors"]}, past.text
    assert diff(before, await snapshot(runtime, world.tenant.organizer_id)) == []

    at = await send(limit.char * limit.length)
    assert at.status_code in (200, 201), at.text
    if limit.field == "buyer.name":
        assert at.json()["buyer_name"] == limit.char * limit.length


@pytest.mark.parametrize("term", ["%", "_", "\\", "%%", "张%"])
async def test_order_search_terms_are_literal(client, world, term):
    listed = (await client.get("/api/v1/orders", params={"q": term}, headers=world.auth)).json()["items"]
    assert listed == [], f"{term!r} matched {[o['buyer_name'] for o in listed]}"


async def test_order_search_still_finds_names_with_wildcard_characters(client, world):
    body = {"items": [{"ticket_type_id": world.ticket_type_id, "quantity": 1}], "buyer": {**BUYER, "name": "王_5%"}}
    made = await client.post("/api/v1/orders", json=body, headers=world.auth)
    assert made.status_code == 201, made.text
    for term in ("_5%", "王_", "5%"):
        found = (await client.get("/api/v1/orders", params={"q": term}, headers=world.auth)).json()["items"]
        assert [o["id"] for o in found] == [made.json()["id"]], term
    assert (await client.get("/api/v1/orders", params={"q": "王x5"}, headers=world.auth)).json()["items"] == []


async def test_a_ticket_type_without_quota_reports_its_own_sales(runtime, client, world):
    # The world's session sells one type (2 tickets paid); a second type without a quota sells 3, one refunded.
    r = await client.post(
        f"/api/v1/sessions/{world.session_id}/ticket-types",
        json={"name": "学生", "price_minor": 5000},
        headers=world.auth,
    )
    assert r.status_code == 201 and r.json()["quota"] is None, r.text
    student = r.json()["id"]
    assert r.json()["sold"] == 0
    order = (await create_order(client, world.auth, student, 3)).json()
    paid = await client.post(f"/api/v1/orders/{order['id']}/pay", json={"method": "cash"}, headers=world.auth)
    assert paid.status_code == 200, paid.text
    refund = await client.post(
        f"/api/v1/orders/{order['id']}/refunds", json={"line_ids": [paid.json()["lines"][0]["id"]]}, headers=world.auth
    )
    assert refund.status_code == 200, refund.text

    session = (await client.get(f"/api/v1/sessions/{world.session_id}", headers=world.auth)).json()
    sold = {t["id"]: t["sold"] for t in session["ticket_types"]}
    assert sold == {world.ticket_type_id: 2, student: 2}
    assert session["sold"] == 4  # the session's pool counts every type
    shop = (await client.get(f"/api/v1/shop/{world.tenant.slug}/sessions/{world.session_id}")).json()
    assert {t["id"]: t["sold"] for t in shop["session"]["ticket_types"]} == sold


async def test_an_api_tokens_last_use_is_recorded_at_most_once_a_minute(runtime, client, world, clock):
    def last_used(tokens: list[dict[str, Any]]) -> str | None:
        return next(t["last_used_at"] for t in tokens if t["prefix"] in world.auth["Authorization"])

    first = (await client.get("/api/v1/tokens", headers=world.auth)).json()
    assert last_used(first) is not None  # the request that lists it used it
    used_at = last_used(first)
    clock.advance(timedelta(seconds=30))
    accounts.TOKEN_CACHE.clear()  # as after the cache's few seconds
    assert last_used((await client.get("/api/v1/tokens", headers=world.auth)).json()) == used_at
    clock.advance(timedelta(seconds=31))
    accounts.TOKEN_CACHE.clear()
    assert last_used((await client.get("/api/v1/tokens", headers=world.auth)).json()) > used_at


async def test_an_order_total_holds_up_to_its_limit_on_both_databases(runtime, client, world):
    """Prices go up to 100,000,000 and orders to 100 tickets, but amounts are 32-bit on PostgreSQL: an order
    over 2**31 − 1 minor units is refused on both databases (it used to work on SQLite only)."""
    big = {"name": "Gold", "price_minor": 100_000_000, "max_per_order": 100}
    tt = await client.post(f"/api/v1/sessions/{world.session_id}/ticket-types", json=big, headers=world.auth)
    assert tt.status_code == 201, tt.text
    r = await client.patch(f"/api/v1/sessions/{world.session_id}", json={"capacity": 1000}, headers=world.auth)
    assert r.status_code == 200, r.text
    before = await snapshot(runtime, world.tenant.organizer_id)
    over = await create_order(client, world.auth, tt.json()["id"], 22)  # 2,200,000,000 > 2,147,483,647
    assert over.status_code == 422 and over.json()["errors"][0]["code"] == "total_too_large", over.text
    assert diff(before, await snapshot(runtime, world.tenant.organizer_id)) == []
    at = await create_order(client, world.auth, tt.json()["id"], 21)
    assert at.status_code == 201 and at.json()["total_minor"] == 2_100_000_000, at.text
    paid = await client.post(f"/api/v1/orders/{at.json()['id']}/pay", json={"method": "cash"}, headers=world.auth)
    assert paid.status_code == 200 and paid.json()["paid_minor"] == 2_100_000_000, paid.text
