"""Sessions in series in the back office: the event's ticket types, then "generate sessions" — a preview that
writes nothing, a confirmation that makes exactly the previewed sessions — in zh-CN and en."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from piaowu.catalog import event_service, event_ticket_type_service
from piaowu.catalog.models import Session
from piaowu.catalog.schemas import EventIn
from piaowu.catalog.series_schemas import EventTicketTypeIn
from tests.factories import owner_actor
from tests.web.helpers import csrf_of, post_form, sign_in

RULE = {
    "first_date": "2026-07-06",
    "last_date": "2026-08-30",
    "wd1": "1",
    "wd4": "1",
    "start_times": "19:30",
    "duration_minutes": "150",
    "excluded_dates": "2026-07-10",
    "capacity": "80",
    "status": "on_sale",
    "sales_closes_minutes_before": "30",
}


async def _sessions(runtime) -> int:  # noqa: ANN001
    async with runtime.uow(readonly=True) as uow:
        return (await uow.session.execute(select(func.count()).select_from(Session))).scalar_one()


async def test_define_ticket_types_preview_then_generate(runtime, client: httpx.AsyncClient, tenant) -> None:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    async with runtime.uow() as uow:
        ev = await event_service.create_event(uow, actor, EventIn(name="话剧 Drama"))
        await uow.commit()
    await sign_in(client, tenant.owner_email, tenant.password)
    page = await client.get(f"/manage/events/{ev.id}?lang=en")
    assert "Ticket types of the event" in page.text and f"/manage/events/{ev.id}/series" in page.text

    r = await post_form(
        client, f"/manage/events/{ev.id}/ticket-types/new", {"name": "A区", "price": "280", "is_active": "1"}
    )
    assert r.status_code == 303, r.text
    page = await client.get(f"/manage/events/{ev.id}?lang=en")
    assert "A区" in page.text and "280" in page.text
    def_id = re.search(rf"/manage/events/{ev.id}/ticket-types/(\w+)/edit", page.text).group(1)

    # Preview: 16 Tuesdays and Fridays in 8 weeks, minus one skipped Friday; nothing written.
    r = await post_form(client, f"/manage/events/{ev.id}/series?lang=en", RULE)
    assert r.status_code == 200, r.text
    assert "Preview: 15 sessions, 15 new" in r.text and "2026-07-07 Tue 19:30" in r.text
    assert "2026-07-10" not in r.text.split("Preview", 1)[1].split("</table>", 1)[0]
    assert "Create 15 sessions" in r.text
    assert await _sessions(runtime) == 0

    zh = await post_form(client, f"/manage/events/{ev.id}/series?lang=zh-CN", RULE)
    assert "预览" in zh.text and "周二" in zh.text and "生成 15 个场次" in zh.text

    # Confirm: the hidden fields of the preview are posted again.
    confirm = dict(
        re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)">',
            r.text.split("preview-title", 1)[1].split("</section>")[0],
        )
    )
    assert confirm.pop("confirm") == "1" and confirm.pop("csrf")
    done = await client.post(
        f"/manage/events/{ev.id}/series?lang=en", data={"csrf": csrf_of(r.text), "confirm": "1", **confirm}
    )
    assert done.status_code == 303 and done.headers["location"] == f"/manage/events/{ev.id}"
    assert await _sessions(runtime) == 15
    page = await client.get(f"/manage/events/{ev.id}?lang=en")
    assert "15 sessions created (0 already existed)." in page.text

    # Again: everything exists, the button is disabled; the definition's edit reaches the 15 sessions.
    again = await post_form(client, f"/manage/events/{ev.id}/series?lang=en", RULE)
    assert "Preview: 15 sessions, 0 new" in again.text and "Exists, kept" in again.text
    r = await post_form(
        client,
        f"/manage/events/{ev.id}/ticket-types/{def_id}/edit?lang=en",
        {"name": "A区 Zone A", "price": "300", "is_active": "1", "min_per_order": "1", "max_per_order": "6"},
    )
    assert r.status_code == 303, r.text
    page = await client.get(f"/manage/events/{ev.id}?lang=en")
    assert "Changes saved and applied to 15 session ticket types." in page.text
    # A generated session's ticket type: its edit form says where it comes from; a price set there is its own.
    async with runtime.uow(readonly=True) as uow:
        first = (await event_service.get_event(uow, actor, ev.id)).sessions[0]
    tt = first.ticket_types[0]
    edit = f"/manage/sessions/{first.id}/ticket-types/{tt.id}/edit?lang=en"
    assert "This ticket type comes from the event" in (await client.get(edit)).text
    same = {"name": "A区 Zone A", "price": "300", "is_active": "1", "min_per_order": "1", "max_per_order": "6"}
    assert (await post_form(client, edit, same)).status_code == 303
    assert "Own price" not in (await client.get(f"/manage/sessions/{first.id}?lang=en")).text
    assert (await post_form(client, edit, {**same, "price": "350"})).status_code == 303
    assert "Own price" in (await client.get(f"/manage/sessions/{first.id}?lang=en")).text

    # A ticket type added later, to the sessions that exist too.
    r = await post_form(
        client,
        f"/manage/events/{ev.id}/ticket-types/new?lang=en",
        {"name": "学生 Student", "price": "150", "is_active": "1", "add_to_sessions": "1"},
    )
    assert r.status_code == 303, r.text
    page = await client.get(f"/manage/events/{ev.id}?lang=en")
    assert "Ticket type “学生 Student” added to 15 sessions." in page.text


async def test_a_bad_rule_is_shown_inline_in_both_languages(runtime, client: httpx.AsyncClient, tenant) -> None:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    async with runtime.uow() as uow:
        ev = await event_service.create_event(uow, actor, EventIn(name="景区 Park", kind="attraction"))
        await uow.commit()
    await sign_in(client, tenant.owner_email, tenant.password)
    bad = {**RULE, "start_times": "7pm", "wd1": "", "wd4": ""}
    r = await post_form(client, f"/manage/events/{ev.id}/series?lang=en", bad)
    assert r.status_code == 422
    assert "Enter times like 09:00 or 19:30" in r.text and "Choose at least one weekday." in r.text
    big = {**RULE, "first_date": "2026-01-01", "last_date": "2027-12-31", "wd0": "1", "wd2": "1", "wd3": "1"}
    r = await post_form(client, f"/manage/events/{ev.id}/series?lang=zh-CN", big)
    assert r.status_code == 422 and "一条规则最多生成 500 个" in r.text
    assert await _sessions(runtime) == 0


async def test_another_organizers_event_and_ticket_types_are_not_found(
    runtime,
    client: httpx.AsyncClient,
    tenant,
    other_tenant,  # noqa: ANN001
) -> None:
    other = await owner_actor(runtime, other_tenant.owner_id)
    async with runtime.uow() as uow:
        theirs = await event_service.create_event(uow, other, EventIn(name="Not yours"))
        their_def = await event_ticket_type_service.create_definition(
            uow, other, theirs.id, EventTicketTypeIn(name="Theirs", price_minor=100)
        )
        await uow.commit()
    await sign_in(client, tenant.owner_email, tenant.password)
    csrf = csrf_of((await client.get("/manage")).text)
    for path in (
        f"/manage/events/{theirs.id}/series",
        f"/manage/events/{theirs.id}/ticket-types/new",
        f"/manage/events/{theirs.id}/ticket-types/{their_def.id}/edit",
    ):
        assert (await client.get(path)).status_code == 404, path
    r = await client.post(f"/manage/events/{theirs.id}/series", data={"csrf": csrf, **RULE, "confirm": "1"})
    assert r.status_code == 404
    r = await client.post(
        f"/manage/events/{theirs.id}/ticket-types/{their_def.id}/edit",
        data={"csrf": csrf, "name": "Mine now", "price": "1", "is_active": "1"},
    )
    assert r.status_code == 404
    assert await _sessions(runtime) == 0
    async with runtime.uow(readonly=True) as uow:
        assert (await event_ticket_type_service.get_definition(uow, other, their_def.id)).name == "Theirs"
