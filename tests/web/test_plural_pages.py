"""Counted messages on real pages: English says "1 ticket left" / "2 tickets left", "Preview: 1 seat", and hands
the seat scripts both forms; Chinese pages read as before (one form)."""

from __future__ import annotations

import httpx
import pytest

from piaowu.runtime import Runtime
from tests.conftest import Tenant
from tests.factories import on_sale_session, owner_actor
from tests.seating_world import seating_world
from tests.web.helpers import csrf_of, sign_in
from tests.web.test_seat_office_pages import _new_layout, _section_form


@pytest.mark.parametrize(("capacity", "en", "zh"), [(1, "1 ticket left", "余 1 张"), (2, "2 tickets left", "余 2 张")])
async def test_the_shop_counts_tickets_left_in_both_languages(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, capacity: int, en: str, zh: str
) -> None:
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=capacity, max_per_order=capacity)
    url = f"/s/{tenant.slug}/sessions/{sale.session_id}"
    english = (await client.get(url + "?lang=en")).text
    assert f"<span>{en}</span>" in english
    assert "1 tickets" not in english
    assert f"<span>{zh}</span>" in (await client.get(url + "?lang=zh-CN")).text


async def test_the_seat_map_editor_counts_seats_and_gives_its_script_both_forms(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    world = await seating_world(runtime)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    url, _layout_id = await _new_layout(client, world.venue_id)
    editor = (await client.get(url + "?lang=en")).text
    assert 'data-template-one="{n} seat selected" data-template="{n} seats selected">0 seats selected<' in editor
    one = _section_form(csrf_of(editor), rows="1", seats_per_row="1", aisles_after="", action="preview")
    preview = await client.post(url + "/sections?lang=en", data=one)
    assert preview.status_code == 200, preview.text
    assert "Preview: 1 seat<" in preview.text and "1 seats" not in preview.text
    two = await client.post(url + "/sections?lang=en", data={**one, "seats_per_row": "2"})
    assert "Preview: 2 seats<" in two.text

    added = await client.post(url + "/sections", data={**one, "action": "add"})
    assert added.status_code == 303, added.text
    page = (await client.get(url + "?lang=en")).text
    assert "Section A added: 1 seat." in page  # the flash
    assert "1 seat ·" in page or "1 seat<" in page  # the layout's own count in its heading

    zh = (await client.get(url + "?lang=zh-CN")).text
    assert 'data-template-one="已选 {n} 个座位" data-template="已选 {n} 个座位">已选 0 个座位<' in zh
    assert "1 个座位" in zh
