"""The API answers in the language the client asks for: ``?lang=zh-CN|en`` first, else ``Accept-Language``, else
zh-CN — for every problem+json answer (a refused use case, a body the model refuses, an unknown path, a missing
token, a body the guard refuses, a database at capacity) and the gate's scan message, on the lean lane
(api/lean.py) and through the full stack alike (the ``lane`` fixture runs each test both ways, on SQLite and
PostgreSQL). Each request asks with ``?lang=`` for the language its ``Accept-Language`` does not name, so an
answer that followed the header alone fails here."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from piaowu.core.errors import LockTimeout
from piaowu.orders import service as order_service
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import BUYER

ORDERS = "/api/v1/orders"
EN, ZH = {"Accept-Language": "en"}, {"Accept-Language": "zh-CN"}


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def in_language(r: httpx.Response, lang: str) -> dict:
    """The problem+json body, after checking its title (and each error's message) is in ``lang``."""
    assert r.headers["content-type"] == "application/problem+json", r.text
    body = r.json()
    texts = [body["title"]] + [e["message"] for e in body.get("errors", [])]
    for text in texts:
        assert chinese(text) == (lang == "zh-CN"), (lang, body)
    return body


async def both(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> dict[str, httpx.Response]:
    """The same request asked in each language by ``?lang=`` against an ``Accept-Language`` of the other."""
    headers = kw.pop("headers", {})
    sep = "&" if "?" in path else "?"
    return {
        "en": await client.request(method, f"{path}{sep}lang=en", headers={**headers, **ZH}, **kw),
        "zh-CN": await client.request(method, f"{path}{sep}lang=zh-CN", headers={**headers, **EN}, **kw),
    }


def order_body(ticket_type_id: str, qty: int = 1) -> dict[str, Any]:
    return {"items": [{"ticket_type_id": ticket_type_id, "quantity": qty}], "buyer": BUYER}


async def test_the_lane_s_refusals_follow_lang_over_accept_language(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=1)
    assert (await client.post(ORDERS, json=order_body(sale.ticket_type_id), headers=tenant.auth)).status_code == 201
    lane.took(1)
    sold_out = await both(client, "POST", ORDERS, json=order_body(sale.ticket_type_id), headers=tenant.auth)
    unauthenticated = await both(client, "POST", ORDERS, json=order_body(sale.ticket_type_id))
    shop = f"/api/v1/shop/{tenant.slug}/orders"
    shop_sold_out = await both(client, "POST", shop, json=order_body(sale.ticket_type_id))
    status = await both(client, "GET", f"{ORDERS}/01nosuchorder0000000000000/status", headers=tenant.auth)
    lane.took(8)
    for lang in ("en", "zh-CN"):
        assert in_language(sold_out[lang], lang)["code"] == "sold_out"
        assert in_language(unauthenticated[lang], lang)["code"] == "not_authenticated"
        assert in_language(shop_sold_out[lang], lang)["code"] == "sold_out"
        assert in_language(status[lang], lang)["code"] == "not_found"
    # Without ``?lang=`` the header decides, and with neither the answer is in Chinese.
    header = await client.post(ORDERS, json=order_body(sale.ticket_type_id), headers={**tenant.auth, **EN})
    neither = await client.post(ORDERS, json=order_body(sale.ticket_type_id), headers=tenant.auth)
    lane.took(2)
    in_language(header, "en")
    in_language(neither, "zh-CN")


async def test_what_the_lane_passes_on_answers_in_the_same_language(runtime, client, tenant, lane) -> None:  # noqa: ANN001
    """A body the route's model refuses goes to the full stack (its 422), a body with a NUL character is refused
    by the guard the lane runs first: either way the answer follows ``?lang=``."""
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=3)
    invalid = await both(client, "POST", ORDERS, json=order_body(sale.ticket_type_id, 0), headers=tenant.auth)
    lane.took(0)
    nul = await both(
        client,
        "POST",
        ORDERS,
        content=b'{"items": [], "buyer": {"name": "\\u0000"}}',
        headers={**tenant.auth, "Content-Type": "application/json"},
    )
    for lang in ("en", "zh-CN"):
        body = in_language(invalid[lang], lang)
        assert body["code"] == "validation_error" and body["errors"][0]["field"] == "items.0.quantity"
        body = in_language(nul[lang], lang)
        assert body["code"] == "validation_error" and body["errors"][0]["code"] == "nul_character"
    assert invalid["en"].json()["errors"][0]["message"] == "Enter a value of at least 1."


async def test_a_database_at_capacity_answers_busy_in_the_language_asked(
    runtime,  # noqa: ANN001
    client,  # noqa: ANN001
    tenant,  # noqa: ANN001
    lane,  # noqa: ANN001
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The 503 ``busy`` (a lock not granted in time), on the lane and off it."""
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=3)

    async def busy(*args: Any, **kwargs: Any) -> Any:
        raise LockTimeout()

    monkeypatch.setattr(order_service, "create_order", busy)
    answers = await both(client, "POST", ORDERS, json=order_body(sale.ticket_type_id), headers=tenant.auth)
    lane.took(2)
    for lang in ("en", "zh-CN"):
        assert answers[lang].status_code == 503 and answers[lang].headers["retry-after"] == "1"
        assert in_language(answers[lang], lang)["code"] == "busy"


async def test_every_kind_of_refusal_off_the_lane_follows_lang(runtime, client, tenant) -> None:  # noqa: ANN001
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=3)
    session = f"/api/v1/sessions/{sale.session_id}"
    answers = {
        "not_found": await both(client, "GET", f"{ORDERS}/01nosuchorder0000000000000", headers=tenant.auth),
        "validation_error": await both(client, "PATCH", session, json={"capacity": "many"}, headers=tenant.auth),
        "not_authenticated": await both(client, "GET", ORDERS),
        "permission_denied": await both(client, "GET", "/api/v1/staff", headers=await _gate_auth(runtime, tenant)),
        "unknown path": await both(client, "GET", "/api/v1/no-such-thing", headers=tenant.auth),
        "payload_too_large": await both(
            client,
            "POST",
            ORDERS,
            content=b"{" + b" " * (1024 * 1024 + 1) + b"}",
            headers={**tenant.auth, "Content-Type": "application/json"},
        ),
    }
    for code, pair in answers.items():
        for lang, r in pair.items():
            body = in_language(r, lang)
            assert body["code"] == code or (code == "unknown path" and r.status_code == 404), body
    assert answers["not_found"]["en"].json()["title"] == "No order with this id."
    assert answers["not_found"]["zh-CN"].json()["title"] == "找不到该订单。"


async def _gate_auth(runtime, tenant) -> dict[str, str]:  # noqa: ANN001
    from piaowu.accounts import service as accounts

    async with runtime.uow() as uow:
        secret, _ = await accounts.create_token(uow, None, organizer_id=tenant.organizer_id, name="g", role="gate")
        await uow.commit()
    return {"Authorization": f"Bearer {secret}"}


async def test_the_gate_s_scan_message_follows_lang(runtime, client, tenant) -> None:  # noqa: ANN001
    answers = await both(client, "POST", "/api/v1/checkin/scan", json={"raw": "NOSUCHCODE"}, headers=tenant.auth)
    assert answers["en"].status_code == answers["zh-CN"].status_code == 200
    assert answers["en"].json()["result"] == "invalid_ticket" and not chinese(answers["en"].json()["message"])
    assert chinese(answers["zh-CN"].json()["message"])
