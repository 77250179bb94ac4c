"""Per-organizer return origins (issue 5): an organizer lists the origins of its own sites; a payment may send the
buyer back there — and only for that organizer's payments. Invalid origins are refused with field errors."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from piaowu.audit.models import AuditEvent
from piaowu.organizers.models import Organizer
from piaowu.runtime import Runtime
from tests.conftest import Tenant, make_tenant
from tests.order_helpers import BUYER
from tests.tenant_world import World, build_world
from tests.web.helpers import csrf_of

SETTINGS = "/api/v1/organizer/settings"
A_SITE = "https://tickets.grand-theatre.cn"


async def _pay(client: httpx.AsyncClient, w: World, return_url: str) -> httpx.Response:
    return await client.post(
        f"/api/v1/orders/{w.pending_order_id}/payments", json={"return_url": return_url}, headers=w.auth
    )


async def _shop_pay(client: httpx.AsyncClient, w: World, return_url: str) -> httpx.Response:
    body = {"contact": BUYER["phone"], "return_url": return_url}
    return await client.post(f"/api/v1/shop/{w.tenant.slug}/orders/{w.pending_order_code}/payments", json=body)


async def _stored(rt: Runtime, organizer_id: str) -> list[str]:
    async with rt.uow(readonly=True) as uow:
        return (await uow.session.get(Organizer, organizer_id)).return_origins


async def test_an_owner_lists_origins_and_gets_them_back_normalized(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    assert (await client.get(SETTINGS, headers=tenant.auth)).json()["return_origins"] == []
    body = {
        "return_origins": [
            "HTTPS://Tickets.Grand-Theatre.CN/",
            "https://tickets.grand-theatre.cn:443",
            "http://127.0.0.1:9000",
        ]
    }
    r = await client.patch(SETTINGS, json=body, headers=tenant.auth)
    assert r.status_code == 200, r.text
    assert r.json()["return_origins"] == [A_SITE, "http://127.0.0.1:9000"]
    assert (await client.get(SETTINGS, headers=tenant.auth)).json() == r.json()
    assert await _stored(runtime, tenant.organizer_id) == [A_SITE, "http://127.0.0.1:9000"]
    # Leaving the field out changes nothing; an empty list empties it.
    assert (await client.patch(SETTINGS, json={}, headers=tenant.auth)).json() == r.json()
    emptied = await client.patch(SETTINGS, json={"return_origins": []}, headers=tenant.auth)
    assert emptied.json()["return_origins"] == []
    async with runtime.uow(readonly=True) as uow:
        events = (
            (await uow.session.execute(select(AuditEvent).where(AuditEvent.action == "organizer.settings_changed")))
            .scalars()
            .all()
        )
    changes = [(e.before, e.after) for e in events]  # the unchanged PATCH wrote none
    assert len(changes) == 2
    assert ({"return_origins": []}, {"return_origins": [A_SITE, "http://127.0.0.1:9000"]}) in changes
    assert ({"return_origins": [A_SITE, "http://127.0.0.1:9000"]}, {"return_origins": []}) in changes


@pytest.mark.parametrize(
    ("origins", "fields", "words"),
    [
        (["https://ok.example", "javascript:alert(1)"], ["return_origins.1"], "http:// or https://"),
        (["https://tickets.example.com/shop"], ["return_origins.0"], "no path"),
        (["https://tickets.example.com?x=1", "https://a@b.example"], ["return_origins.0", "return_origins.1"], ""),
        (["https://tickets.example.com:70000"], ["return_origins.0"], "port"),
        ([f"https://s{i}.example" for i in range(21)], ["return_origins"], "20"),
        (["https://" + "a" * 250 + ".example"], ["return_origins.0"], "characters"),
        ("https://tickets.example.com", ["return_origins"], ""),  # a string, not a list
        ([1], ["return_origins.0"], ""),
        (None, ["return_origins"], "null"),
    ],
)
async def test_invalid_origins_are_refused_with_field_errors_and_nothing_changes(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant, origins: object, fields: list[str], words: str
) -> None:
    await client.patch(SETTINGS, json={"return_origins": [A_SITE]}, headers=tenant.auth)
    r = await client.patch(SETTINGS, json={"return_origins": origins}, headers={**tenant.auth, "Accept-Language": "en"})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "validation_error"
    assert [e["field"] for e in problem["errors"]] == fields
    assert words in problem["errors"][0]["message"]
    assert await _stored(runtime, tenant.organizer_id) == [A_SITE]


async def test_an_error_is_said_in_chinese_too(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await client.patch(
        SETTINGS, json={"return_origins": ["ftp://x.example"]}, headers={**tenant.auth, "Accept-Language": "zh-CN"}
    )
    assert r.status_code == 422 and "http:// 或 https://" in r.json()["errors"][0]["message"], r.text


async def test_roles_without_the_setting_permission_are_refused(runtime: Runtime, client: httpx.AsyncClient) -> None:
    clerk = await make_tenant(runtime, slug="clerks", role="sales")
    assert (await client.get(SETTINGS, headers=clerk.auth)).status_code == 403
    r = await client.patch(SETTINGS, json={"return_origins": [A_SITE]}, headers=clerk.auth)
    assert r.status_code == 403 and r.json()["permission"] == "organizer.settings", r.text
    assert await _stored(runtime, clerk.organizer_id) == []


async def test_a_return_url_on_an_organizers_own_site_is_accepted_for_that_organizer_only(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    a = await build_world(runtime, client, tenant)
    b = await build_world(runtime, client, other_tenant)
    back = A_SITE + "/orders/done?from=piaowu"
    # Before A lists its site, nobody may return there.
    assert (await _pay(client, a, back)).status_code == 422
    r = await client.patch(SETTINGS, json={"return_origins": [A_SITE]}, headers=a.auth)
    assert r.status_code == 200, r.text
    # Organizer B's payment may not send B's buyer to A's site: through the token API and the public shop API.
    for refused in (await _pay(client, b, back), await _shop_pay(client, b, back)):
        assert refused.status_code == 422, refused.text
        assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [("return_url", "url_not_allowed")]
    # Nor to another site, nor to A's host on another scheme or port.
    for url in ("https://evil.example/x", "http://tickets.grand-theatre.cn/x", A_SITE + ":8443/x"):
        assert (await _pay(client, a, url)).status_code == 422, url
    # A's own payments may, through either door.
    started = await _pay(client, a, back)
    assert started.status_code == 201, started.text
    assert (await _shop_pay(client, a, back)).status_code == 201
    # This server's own address and the installation's list still apply to both.
    assert (await _pay(client, b, "http://testserver/s/other-venue")).status_code == 201

    # The gateway's page lets its forms lead there (browsers check the redirect after a post against the page's
    # form-action) and sends the buyer back there once paid.
    trade_no = started.json()["redirect_url"].rsplit("/", 1)[-1]
    page = await client.get(f"/sandbox-gateway/pay/{trade_no}")
    assert page.status_code == 200
    assert f"form-action 'self' {A_SITE};" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    paid = await client.post(f"/sandbox-gateway/pay/{trade_no}/confirm", data={"csrf": csrf_of(page.text)})
    assert paid.status_code == 303 and paid.headers["location"].startswith(A_SITE + "/orders/done?")


async def test_an_origin_removed_from_the_list_is_refused_from_then_on(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    a = await build_world(runtime, client, tenant)
    await client.patch(SETTINGS, json={"return_origins": [A_SITE]}, headers=a.auth)
    await client.patch(SETTINGS, json={"return_origins": []}, headers=a.auth)
    assert (await _pay(client, a, A_SITE + "/x")).status_code == 422


async def test_the_name_zone_and_catalog_language_are_settings_too(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    shown = (await client.get(SETTINGS, headers=tenant.auth)).json()
    assert {k: shown[k] for k in ("name", "timezone", "default_locale", "currency")} == {
        "name": "demo-theatre org",
        "timezone": "Asia/Shanghai",
        "default_locale": "zh-CN",
        "currency": "CNY",
    }
    body = {"name": "Grand Theatre", "timezone": "Europe/Berlin", "default_locale": "en"}
    r = await client.patch(SETTINGS, json=body, headers=tenant.auth)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in body} == body
    me = (await client.get("/api/v1/organizer", headers=tenant.auth)).json()
    assert (me["name"], me["timezone"], me["default_locale"]) == ("Grand Theatre", "Europe/Berlin", "en")
    # The shop of this process shows the new name at once (its cached organizer was dropped).
    shop = await client.get(f"/s/{tenant.slug}")
    assert "Grand Theatre" in shop.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": " "}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"name": "  "}, "name"),
        ({"default_locale": "fr"}, "default_locale"),
        ({"currency": "USD"}, "currency"),  # set at creation: not a setting
    ],
)
async def test_bad_settings_are_refused_by_field_and_nothing_changes(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant, body: dict, field: str
) -> None:
    r = await client.patch(SETTINGS, json={"name": "Changed", **body}, headers=tenant.auth)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_error"
    assert field in [e["field"] for e in r.json()["errors"]]
    shown = (await client.get(SETTINGS, headers=tenant.auth)).json()
    assert (shown["name"], shown["timezone"], shown["default_locale"]) == ("demo-theatre org", "Asia/Shanghai", "zh-CN")
