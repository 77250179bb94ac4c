"""Shop and back-office pages in both languages: catalog names, descriptions and venues in the page's language,
session times in the venue's zone, and the language fields of the catalog forms."""

from __future__ import annotations

import re

import httpx
import pytest

from piaowu.catalog import event_service, ticket_type_service, venue_service
from piaowu.catalog.schemas import EventPatch, TicketTypePatch
from piaowu.catalog.venue_schemas import VenueIn
from piaowu.runtime import Runtime
from tests.conftest import Tenant
from tests.factories import OnSale, on_sale_session, owner_actor
from tests.ticket_fixtures import at_the_door, issue_paid
from tests.web.helpers import hidden, post_form, sign_in
from tests.web.test_gate_pages import scan_json, set_up


@pytest.fixture
async def sale(runtime: Runtime, tenant: Tenant) -> OnSale:
    """A concert written in both languages, at a venue in London (the organizer's zone is Shanghai's)."""
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, name="新年音乐会")
    async with runtime.uow() as uow:
        venue = await venue_service.create_venue(
            uow,
            actor,
            VenueIn(
                name_i18n={"zh-CN": "皇家节日音乐厅", "en": "Royal Festival Hall"},
                timezone="Europe/London",
                entrances=["Riverside"],
            ),
        )
        await event_service.update_event(
            uow,
            actor,
            sale.event_id,
            EventPatch(
                name_i18n={"en": "New Year Concert"},
                description_i18n={"zh-CN": "施特劳斯圆舞曲", "en": "Strauss waltzes"},
                venue_id=venue.id,
            ),
        )
        await ticket_type_service.update_ticket_type(
            uow, actor, sale.ticket_type_id, TicketTypePatch(name_i18n={"zh-CN": "贵宾席", "en": "VIP"})
        )
        await uow.commit()
    return sale


async def test_the_shop_shows_the_catalog_in_the_pages_language(client: httpx.AsyncClient, tenant, sale) -> None:
    en = await client.get(f"/s/{tenant.slug}?lang=en")
    assert "New Year Concert" in en.text and "Royal Festival Hall" in en.text and "Strauss waltzes" in en.text
    assert "新年音乐会" not in en.text and "皇家节日音乐厅" not in en.text
    zh = await client.get(f"/s/{tenant.slug}?lang=zh-CN")
    assert "新年音乐会" in zh.text and "皇家节日音乐厅" in zh.text and "施特劳斯圆舞曲" in zh.text
    assert "New Year Concert" not in zh.text
    # the language chosen sticks (cookie), as for the page's own words
    again = await client.get(f"/s/{tenant.slug}/sessions/{sale.session_id}")
    assert "新年音乐会" in again.text and ">贵宾席<" in again.text


async def test_the_session_page_shows_times_in_the_venues_zone(client: httpx.AsyncClient, tenant, sale) -> None:
    page = await client.get(f"/s/{tenant.slug}/sessions/{sale.session_id}?lang=en")
    assert page.status_code == 200
    assert "New Year Concert" in page.text and ">VIP<" in page.text and "Royal Festival Hall" in page.text
    # 2026-06-08 02:00 UTC: 10:00 in Shanghai (the organizer), 03:00 in London (the venue)
    assert "Mon 8 Jun 2026, 03:00" in page.text, re.findall(r"\w{3} \d+ \w{3} 2026, \d\d:\d\d", page.text)
    home = await client.get(f"/s/{tenant.slug}?lang=en")
    assert ">03:00" in home.text


async def test_a_buyer_in_english_gets_english_names_on_the_order(client: httpx.AsyncClient, tenant, sale) -> None:
    url = f"/s/{tenant.slug}/sessions/{sale.session_id}?lang=en"
    page = await client.get(url)
    data = {
        **hidden(page.text),
        f"qty_{sale.ticket_type_id}": "1",
        "buyer_name": "Ann",
        "buyer_phone": "138 1234 5678",
    }
    r = await client.post(url, data=data)
    assert r.status_code == 303, r.text
    order = await client.get(r.headers["location"])
    assert "VIP" in order.text and "New Year Concert" in order.text and "贵宾席" not in order.text
    assert "Mon 8 Jun 2026, 03:00" in order.text  # the session's time in the venue's zone (London)


async def test_the_event_and_venue_forms_take_both_languages(
    client: httpx.AsyncClient, tenant: Tenant, runtime: Runtime
) -> None:
    await sign_in(client, tenant.owner_email, tenant.password)
    made = await post_form(
        client,
        "/manage/venues/new",
        {"name_zh": "大剧院", "name_en": "Grand Theatre", "timezone": "Asia/Shanghai", "entrances": "北门\n\n南门"},
    )
    assert made.status_code == 303, made.text
    listing = await client.get("/manage/venues?lang=en")
    assert "Grand Theatre" in listing.text and "北门, 南门" in listing.text
    venue_id = re.search(r"/manage/venues/(\w+)/edit", listing.text)[1]
    bad = await post_form(
        client, f"/manage/venues/{venue_id}/edit?lang=en", {"name_zh": "大剧院", "timezone": "Mars/Base"}
    )
    assert bad.status_code == 422 and "Enter a time zone such as Asia/Shanghai." in bad.text
    assert 'value="Mars/Base"' in bad.text  # what was typed stays

    form = await client.get("/manage/events/new")
    assert 'name="name_zh"' in form.text and 'name="name_en"' in form.text and 'name="description_en"' in form.text
    assert f'<option value="{venue_id}">Grand Theatre</option>' in form.text  # the page is in English now
    r = await post_form(
        client,
        "/manage/events/new",
        {
            "name_zh": "春季音乐会",
            "name_en": "Spring Concert",
            "description_zh": "",
            "description_en": "Outdoors",
            "kind": "performance",
            "venue_id": venue_id,
        },
    )
    assert r.status_code == 303, r.text
    actor = await owner_actor(runtime, tenant.owner_id)
    async with runtime.uow(readonly=True) as uow:
        ev = await event_service.get_event(uow, actor, r.headers["location"].rsplit("/", 1)[-1])
    assert ev.name_i18n == {"zh-CN": "春季音乐会", "en": "Spring Concert"} and ev.description_i18n == {"en": "Outdoors"}
    assert ev.venue_id == venue_id
    edit = await client.get(f"/manage/events/{ev.id}/edit")
    assert 'value="Spring Concert"' in edit.text and f'<option value="{venue_id}" selected>' in edit.text
    # no name in any language: the error sits at the first language's input
    empty = await post_form(client, f"/manage/events/{ev.id}/edit", {"name_zh": "", "name_en": ""})
    assert empty.status_code == 422 and 'id="f-name_zh-error"' in empty.text
    too_long = await post_form(client, f"/manage/events/{ev.id}/edit", {"name_zh": "x", "name_en": "y" * 201})
    assert too_long.status_code == 422 and 'id="f-name_en-error"' in too_long.text


async def test_the_gate_names_the_event_in_the_gates_language(client, runtime: Runtime, tenant, sale) -> None:
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor, sale, n=1)
    at_the_door(runtime, issued)
    await sign_in(client, tenant.owner_email, tenant.password)
    csrf = await set_up(client, "Riverside", [sale.session_id])
    en = (await scan_json(client, csrf, issued.ticket.qr_payload, lang="en")).json()
    assert en["admitted"] and any("New Year Concert" in d for d in en["details"]), en
    zh = (await scan_json(client, csrf, issued.ticket.code, lang="zh-CN")).json()
    assert any("新年音乐会" in d for d in zh["details"]), zh
