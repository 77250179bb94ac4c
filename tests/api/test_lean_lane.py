"""Placing an order answers the same on the lean lane (api/lean.py) as through the full FastAPI stack.

Every test runs twice: ``lane`` (as served) and ``full`` (the lane passes every request on, as it does for
anything unusual), each on PostgreSQL and SQLite. The same assertions hold in both, and in ``lane`` mode the
test also checks which requests the lane served itself — so a lane that silently passed everything on, or
served a request it should have passed on, fails here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from piaowu.accounts import service as accounts
from piaowu.accounts.models import ApiToken
from piaowu.api.lean import json_content
from piaowu.audit.models import AuditEvent
from piaowu.headers import API_CSP
from piaowu.orders import service as order_service
from piaowu.orders.models import Order
from tests.conftest import make_tenant
from tests.factories import on_sale_session, owner_actor, pending_order
from tests.order_helpers import BUYER
from tests.seating_world import seating_world

ORDERS = "/api/v1/orders"
AVAILABILITY = "/api/v1/shop/{slug}/sessions/{session_id}/availability"


def _body(ticket_type_id: str, qty: int = 1) -> dict[str, Any]:
    return {"items": [{"ticket_type_id": ticket_type_id, "quantity": qty}], "buyer": BUYER}


async def _count(runtime: Any, model: Any) -> int:
    async with runtime.uow(readonly=True) as uow:
        return (await uow.session.execute(select(func.count()).select_from(model))).scalar_one()


async def _sale(runtime: Any, tenant: Any, capacity: int = 3) -> Any:
    return await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=capacity)


async def test_created_order_with_audit_headers_and_no_cookie(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    sale = await _sale(runtime, tenant)
    r = await client.post(ORDERS, json=_body(sale.ticket_type_id, 2), headers=tenant.auth)
    assert r.status_code == 201, r.text
    lane.took(1)
    order = r.json()
    assert order["status"] == "pending" and order["total_minor"] == 2 * 18000 and len(order["lines"]) == 2
    assert order["buyer_phone"] == "+8613812345678"  # the body model's normalisation ran
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-security-policy"] == API_CSP  # SecurityHeaders still wraps the lane
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in r.headers
    assert await _count(runtime, AuditEvent) >= 1
    async with runtime.uow(readonly=True) as uow:
        kinds = (await uow.session.execute(select(AuditEvent.action).where(AuditEvent.subject_id == order["id"]))).all()
    assert [k for (k,) in kinds] == ["order.created"]  # in the same statement as the order


async def test_sold_out_is_problem_json_in_the_clients_language(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    sale = await _sale(runtime, tenant, capacity=1)
    assert (await client.post(ORDERS, json=_body(sale.ticket_type_id), headers=tenant.auth)).status_code == 201
    en = await client.post(ORDERS, json=_body(sale.ticket_type_id), headers={**tenant.auth, "Accept-Language": "en"})
    zh = await client.post(ORDERS + "?lang=zh-CN", json=_body(sale.ticket_type_id), headers=tenant.auth)
    lane.took(3)
    for r in (en, zh):
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "sold_out" and r.json()["pool_id"]
        assert r.headers["content-security-policy"] == API_CSP
    assert en.json()["title"] != zh.json()["title"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.json()["title"])  # the Chinese message
    assert await _count(runtime, Order) == 1


async def test_access_rule_and_token(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    sale = await _sale(runtime, tenant)
    body = _body(sale.ticket_type_id)
    none = await client.post(ORDERS, json=body)
    bad = await client.post(ORDERS, json=body, headers={"Authorization": "Bearer pw_notatoken"})
    async with runtime.uow() as uow:
        gate, _ = await accounts.create_token(uow, None, organizer_id=tenant.organizer_id, name="g", role="gate")
        await uow.commit()
    forbidden = await client.post(ORDERS, json=body, headers={"Authorization": f"Bearer {gate}"})
    lane.took(3)
    assert (none.status_code, none.json()["code"]) == (401, "not_authenticated")
    assert (bad.status_code, bad.json()["code"]) == (401, "not_authenticated")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "permission_denied"
    assert forbidden.json()["permission"] == "order.create"
    assert await _count(runtime, Order) == 0


async def test_idempotency_key_replays_and_refuses_another_body(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    sale = await _sale(runtime, tenant)
    keyed = {**tenant.auth, "Idempotency-Key": "lane-1"}
    first = await client.post(ORDERS, json=_body(sale.ticket_type_id), headers=keyed)
    again = await client.post(ORDERS, json=_body(sale.ticket_type_id), headers=keyed)
    other = await client.post(ORDERS, json=_body(sale.ticket_type_id, 2), headers=keyed)
    lane.took(3)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert await _count(runtime, Order) == 1


async def test_what_the_lane_passes_on_gets_the_full_stacks_answer(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    sale = await _sale(runtime, tenant)
    invalid = await client.post(ORDERS, json=_body(sale.ticket_type_id, 0), headers=tenant.auth)
    long_key = await client.post(
        ORDERS, json=_body(sale.ticket_type_id), headers={**tenant.auth, "Idempotency-Key": "k" * 201}
    )
    not_json = await client.post(ORDERS, content=b"items=1", headers={**tenant.auth, "Content-Type": "text/plain"})
    broken = await client.post(
        ORDERS, content=b'{"items": [', headers={**tenant.auth, "Content-Type": "application/json"}
    )
    unauthenticated_and_invalid = await client.post(ORDERS, json={"items": []})
    lane.took(0)
    assert invalid.status_code == 422 and invalid.json()["code"] == "validation_error"
    assert [e["field"] for e in invalid.json()["errors"]] == ["items.0.quantity"]
    assert long_key.status_code == 422 and long_key.json()["errors"][0]["field"] == "Idempotency-Key"
    assert not_json.status_code == 422 and broken.status_code == 422
    assert broken.json()["errors"][0]["code"] == "json_invalid"
    assert unauthenticated_and_invalid.status_code == 401  # the access rule first, as on every route
    assert await _count(runtime, Order) == 0


async def test_an_unexpected_failure_is_a_500_problem_and_writes_nothing(
    runtime, app, tenant, lane, monkeypatch
) -> None:  # noqa: ANN001
    sale = await _sale(runtime, tenant)
    # The full stack re-raises to the server after answering (to be logged); the client sees the answer.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(order_service, "create_order", broken)
    async with client:
        r = await client.post(ORDERS, json=_body(sale.ticket_type_id), headers=tenant.auth)
    lane.took(1)
    assert r.status_code == 500 and r.json()["code"] == "internal_error"
    assert r.headers["content-type"] == "application/problem+json"
    assert await _count(runtime, Order) == 0


async def test_shop_order_rate_limit_and_unknown_shop(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    runtime.settings.shop_orders_per_minute = 2
    sale = await _sale(runtime, tenant)
    url = f"/api/v1/shop/{tenant.slug}/orders"
    created = await client.post(url, json=_body(sale.ticket_type_id))
    lane.took(1)
    assert created.status_code == 201 and created.json()["channel"] == "web"
    assert created.headers["content-security-policy"] == API_CSP
    assert (await client.post(url, json={"items": []})).status_code == 422  # counts too (passed on)
    lane.took(0)
    limited = await client.post(url, json=_body(sale.ticket_type_id), headers={"Accept-Language": "en"})
    lane.took(1)
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    assert limited.headers["retry-after"] == "60"
    runtime.settings.shop_orders_per_minute = 0
    unknown = await client.post("/api/v1/shop/no-such-shop/orders", json=_body(sale.ticket_type_id))
    lane.took(1)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert await _count(runtime, Order) == 1


async def test_other_routes_and_methods_are_not_on_the_lane(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    assert (await client.get(ORDERS, headers=tenant.auth)).status_code == 200
    assert (await client.post(ORDERS + "/", json={}, headers=tenant.auth)).status_code in (307, 404, 405)
    assert (await client.put(ORDERS, json={}, headers=tenant.auth)).status_code == 405
    lane.took(0)


def test_json_content_types_as_fastapi_reads_them() -> None:
    assert json_content("application/json") and json_content("application/json; charset=utf-8")
    assert json_content("application/problem+json")
    assert not json_content(None) and not json_content("text/plain") and not json_content("multipart/form-data")


async def test_a_token_revoked_elsewhere_is_refused_on_the_lane_too(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    sale = await _sale(runtime, tenant, capacity=10)
    async with runtime.uow() as uow:
        token, info = await accounts.create_token(uow, None, organizer_id=tenant.organizer_id, name="p", role="sales")
        await uow.commit()
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(2):  # the second one identifies the caller from this process's token cache
        assert (await client.post(ORDERS, json=_body(sale.ticket_type_id), headers=auth)).status_code == 201
    assert accounts.cached_token_actor(token) is not None
    async with runtime.uow() as uow:  # another process or host: this process's cache is not told
        await uow.session.execute(update(ApiToken).where(ApiToken.id == info.id).values(revoked_at=uow.now()))
        await uow.commit()
    refused = await client.post(ORDERS, json=_body(sale.ticket_type_id), headers=auth)
    lane.took(3)
    assert (refused.status_code, refused.json()["code"]) == (401, "not_authenticated")
    assert await _count(runtime, Order) == 2


async def test_seat_availability_on_the_lane(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    """A seat picker's availability asks: served on the lane with the full stack's answers — the states, the
    changes ``since`` a version, a 422 for a bad ``since`` (passed on), a 404 problem for what the shop does not
    show, in the client's language."""
    world = await seating_world(runtime, tenant)
    draft = await seating_world(runtime, tenant, status="draft")
    base = f"/api/v1/shop/{tenant.slug}/sessions/{world.session_id}/seat-availability"
    full = await client.get(base)
    since = await client.get(base, params={"since": full.json()["version"]})
    lane.took(2)
    assert full.status_code == 200 and full.headers["content-type"] == "application/json"
    assert full.json()["states"] and full.headers["cache-control"] == "no-cache"
    assert full.headers["content-security-policy"] == API_CSP and "set-cookie" not in full.headers
    assert since.status_code == 200 and since.json()["version"] == full.json()["version"]
    too_long = await client.get(base, params={"since": "v" * 41})
    twice = await client.get(base + "?since=a&since=b")
    lane.took(0)
    assert too_long.status_code == 422 and too_long.json()["code"] == "validation_error"
    assert twice.status_code == 200
    hidden = await client.get(
        f"/api/v1/shop/{tenant.slug}/sessions/{draft.session_id}/seat-availability", headers={"Accept-Language": "en"}
    )
    other_shop = await client.get(f"/api/v1/shop/no-such-shop/sessions/{world.session_id}/seat-availability")
    lane.took(2)
    for r in (hidden, other_shop):
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        assert r.headers["content-type"] == "application/problem+json"


async def test_session_availability_on_the_lane(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    """What every buyer's page polls during a sale (issue 7, browse): served on the lane with the full stack's
    answer — the same JSON in every language (it has no texts), ``no-cache``, the API's security headers, no
    cookie even for a browser that has a page session; a 404 problem in the client's language for a session the
    shop does not have, and for another shop's session (the slug scopes the read and the cache key)."""
    sale = await _sale(runtime, tenant, capacity=5)
    other = await make_tenant(runtime, slug="other-venue")
    base = f"/api/v1/shop/{tenant.slug}/sessions/{sale.session_id}/availability"
    assert (await client.get(f"/s/{tenant.slug}/sessions/{sale.session_id}")).cookies.get("piaowu_session")
    zh = await client.get(base)  # with the page's session cookie (the client keeps it)
    en = await client.get(base, headers={"Accept-Language": "en"})
    lane.took_paths(*[AVAILABILITY] * 2)
    for r in (zh, en):
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert r.headers["cache-control"] == "no-cache" and "vary" not in r.headers and "etag" not in r.headers
        assert r.headers["content-security-policy"] == API_CSP and r.headers["x-content-type-options"] == "nosniff"
        assert "set-cookie" not in r.headers
    assert zh.content == en.content
    body = zh.json()
    assert (body["session_id"], body["state"], body["buyable"], body["left"]) == (sale.session_id, "on_sale", True, 5)
    assert body["ticket_types"] == [{"id": sale.ticket_type_id, "available": 5, "order_limit": 5}]
    missing = [
        await client.get(
            f"/api/v1/shop/{tenant.slug}/sessions/no-such-session/availability", headers={"Accept-Language": lang}
        )
        for lang in ("en", "zh-CN")
    ]
    crossed = await client.get(f"/api/v1/shop/{other.slug}/sessions/{sale.session_id}/availability")
    unknown_shop = await client.get(f"/api/v1/shop/no-such-shop/sessions/{sale.session_id}/availability?lang=en")
    lane.took(4)
    for r in (*missing, crossed, unknown_shop):
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["content-security-policy"] == API_CSP
    assert missing[0].json()["title"] != missing[1].json()["title"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in missing[1].json()["title"])
    assert unknown_shop.json()["title"].isascii()  # ?lang=en
    head = await client.head(base)  # HEAD is the GET without its body (http_head.HeadAsGet), on the lane too
    lane.took(1)
    assert head.status_code == 200 and head.content == b"" and head.headers["content-type"] == "application/json"


async def test_session_availability_is_at_most_the_bound_old_on_the_lane(runtime, client, tenant, clock, lane) -> None:  # noqa: ANN001
    """The shared answer's bound (core/microcache.py) holds on the lane as on the full stack: a change is in every
    answer once ``shop_cache_seconds`` have passed since the read, and a sold-out session stops being offered;
    another shop never gets this shop's cached answer."""
    runtime.shop_cache.ttl = 0.5
    sale = await _sale(runtime, tenant, capacity=5)
    other = await make_tenant(runtime, slug="other-venue")
    base = f"/api/v1/shop/{tenant.slug}/sessions/{sale.session_id}/availability"
    assert (await client.get(base)).json()["left"] == 5
    actor = await owner_actor(runtime, tenant.owner_id)
    await pending_order(runtime, actor, sale.ticket_type_id, qty=4)
    clock.advance(timedelta(milliseconds=499))
    assert (await client.get(base)).json()["left"] == 5  # the shared answer, within the bound
    assert (await client.get(f"/api/v1/shop/{other.slug}/sessions/{sale.session_id}/availability")).status_code == 404
    clock.advance(timedelta(milliseconds=1))
    assert (await client.get(base)).json()["left"] == 1
    await pending_order(runtime, actor, sale.ticket_type_id, qty=1)
    clock.advance(timedelta(milliseconds=500))
    av = (await client.get(base)).json()
    lane.took(5)
    assert (av["buyable"], av["left"], av["state"], av["ticket_types"][0]["order_limit"]) == (False, 0, "held_out", 0)
