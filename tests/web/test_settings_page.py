"""The back office's Settings page (owner / admin): the organizer's own sites a payment may return to, entered one
per line; a bad line is named inline by its number, in Chinese or English, and nothing is saved."""

from __future__ import annotations

import httpx

from piaowu.organizers.models import Organizer
from piaowu.runtime import Runtime
from tests.conftest import Tenant
from tests.factories import staff_member
from tests.web.helpers import csrf_of, sign_in

PAGE = "/manage/settings"


async def _stored(rt: Runtime, organizer_id: str) -> list[str]:
    async with rt.uow(readonly=True) as uow:
        return (await uow.session.get(Organizer, organizer_id)).return_origins


async def _save(client: httpx.AsyncClient, text: str, lang: str = "en") -> httpx.Response:
    form = await client.get(PAGE, headers={"Accept-Language": lang})
    assert form.status_code == 200, form.text
    return await client.post(
        PAGE, data={"csrf": csrf_of(form.text), "return_origins": text}, headers={"Accept-Language": lang}
    )


async def test_an_owner_lists_the_sites_one_per_line_and_sees_them_normalized(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await sign_in(client, tenant.owner_email, tenant.password)
    first = await client.get(PAGE, headers={"Accept-Language": "en"})
    assert first.status_code == 200
    assert 'href="/manage/settings" aria-current="page"' in first.text  # in the navigation, marked as here
    assert "http://testserver" in first.text  # this server is always allowed, and said so
    r = await _save(client, "  HTTPS://Tickets.Grand-Theatre.CN/ \r\n\r\nhttp://127.0.0.1:9000\r\n")
    assert r.status_code == 303 and r.headers["location"] == PAGE, r.text
    assert await _stored(runtime, tenant.organizer_id) == ["https://tickets.grand-theatre.cn", "http://127.0.0.1:9000"]
    shown = await client.get(PAGE, headers={"Accept-Language": "en"})
    assert "Changes saved." in shown.text
    assert ">https://tickets.grand-theatre.cn\nhttp://127.0.0.1:9000</textarea>" in shown.text
    # Emptying the box empties the list.
    assert (await _save(client, "")).status_code == 303
    assert await _stored(runtime, tenant.organizer_id) == []


async def test_a_bad_line_is_named_inline_and_nothing_is_saved(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await sign_in(client, tenant.owner_email, tenant.password)
    assert (await _save(client, "https://ok.example")).status_code == 303
    typed = "https://a.example\njavascript:alert(1)\nhttps://b.example/shop?x=1"
    r = await _save(client, typed)
    assert r.status_code == 422
    assert 'aria-invalid="true"' in r.text and 'id="error-summary"' in r.text
    assert "Line 2: Start the origin with http:// or https://." in r.text
    assert "Line 3: Enter only the origin (scheme, host and port): no path, query or fragment." in r.text
    assert "javascript:alert(1)\nhttps://b.example/shop?x=1</textarea>" in r.text  # what was typed stays
    assert "<script" not in r.text.split("</textarea>")[0].rsplit("<textarea", 1)[-1]
    assert await _stored(runtime, tenant.organizer_id) == ["https://ok.example"]

    zh = await _save(client, "ftp://x.example", lang="zh-CN")
    assert zh.status_code == 422 and "第 1 行：来源地址须以 http:// 或 https:// 开头。" in zh.text
    too_many = await _save(client, "\n".join(f"https://s{i}.example" for i in range(21)))
    assert too_many.status_code == 422 and "List at most 20 origins." in too_many.text
    assert await _stored(runtime, tenant.organizer_id) == ["https://ok.example"]


async def test_an_admin_may_and_a_clerk_may_not(runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant) -> None:
    await staff_member(runtime, tenant.organizer_id, "admin", "admin@example.com")
    await sign_in(client, "admin@example.com", "correct horse")
    assert (await _save(client, "https://admin.example")).status_code == 303
    assert await _stored(runtime, tenant.organizer_id) == ["https://admin.example"]

    clerk = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")  # noqa: SLF001
    async with clerk:
        await staff_member(runtime, tenant.organizer_id, "sales", "sales@example.com")
        await sign_in(clerk, "sales@example.com", "correct horse")
        home = await clerk.get("/manage/orders")
        assert 'href="/manage/settings"' not in home.text  # no link to a page the role cannot use
        page = await clerk.get(PAGE)
        assert page.status_code == 403 and 'name="return_origins"' not in page.text
        r = await clerk.post(PAGE, data={"csrf": csrf_of(home.text), "return_origins": "https://evil.example"})
        assert r.status_code == 403
    assert await _stored(runtime, tenant.organizer_id) == ["https://admin.example"]


ORG = "/manage/settings/organization"


async def _save_org(client: httpx.AsyncClient, lang: str = "en", **fields: str) -> httpx.Response:
    form = await client.get(PAGE, headers={"Accept-Language": lang})
    data = {"name": "demo-theatre org", "timezone": "Asia/Shanghai", "default_locale": "zh-CN", **fields}
    return await client.post(ORG, data={"csrf": csrf_of(form.text), **data}, headers={"Accept-Language": lang})


async def test_an_owner_renames_the_organization_and_changes_its_zone_and_language(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await sign_in(client, tenant.owner_email, tenant.password)
    page = await client.get(PAGE, headers={"Accept-Language": "en"})
    assert 'value="demo-theatre org"' in page.text and 'value="Asia/Shanghai"' in page.text
    assert '<option value="zh-CN" selected>' in page.text and "CNY" in page.text
    r = await _save_org(client, name="Grand Theatre", timezone="Europe/Berlin", default_locale="en")
    assert r.status_code == 303 and r.headers["location"] == PAGE, r.text
    async with runtime.uow(readonly=True) as uow:
        org = await uow.session.get(Organizer, tenant.organizer_id)
    assert (org.name, org.timezone, org.default_locale) == ("Grand Theatre", "Europe/Berlin", "en")
    after = await client.get(PAGE, headers={"Accept-Language": "en"})
    assert "Changes saved." in after.text and '<option value="en" selected>' in after.text
    # The dashboard's "today" is now Berlin's day (the back office's cached organizer was dropped).
    assert "Europe/Berlin" in (await client.get("/manage", headers={"Accept-Language": "en"})).text


async def test_a_bad_zone_is_named_inline_in_either_language_and_nothing_is_saved(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await sign_in(client, tenant.owner_email, tenant.password)
    r = await _save_org(client, name="Typed Name", timezone="Shanghai")
    assert r.status_code == 422
    assert 'id="error-summary"' in r.text and "Enter a time zone such as Asia/Shanghai." in r.text
    assert 'value="Typed Name"' in r.text and 'value="Shanghai"' in r.text  # what was typed stays
    zh = await _save_org(client, lang="zh-CN", name="", timezone="Asia/Shanghai")
    assert zh.status_code == 422 and "机构" in zh.text
    async with runtime.uow(readonly=True) as uow:
        org = await uow.session.get(Organizer, tenant.organizer_id)
    assert (org.name, org.timezone) == ("demo-theatre org", "Asia/Shanghai")


async def test_a_clerk_may_not_change_the_organization(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await staff_member(runtime, tenant.organizer_id, "sales", "sales@example.com")
    await sign_in(client, "sales@example.com", "correct horse")
    form = await client.get("/manage/sell")
    r = await client.post(ORG, data={"csrf": csrf_of(form.text), "name": "Mine", "timezone": "UTC"})
    assert r.status_code == 403
    async with runtime.uow(readonly=True) as uow:
        assert (await uow.session.get(Organizer, tenant.organizer_id)).name == "demo-theatre org"
