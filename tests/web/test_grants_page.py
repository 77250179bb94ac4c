"""The back office's grants page: what a ticket type admits to, set line by line; errors on their line."""

from __future__ import annotations

from tests.factories import owner_actor
from tests.ticket_fixtures import attractions
from tests.web.helpers import csrf_of, sign_in


async def test_set_a_combo_and_a_multi_day_part_then_see_them(client, runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    a, b = await attractions(runtime, actor, 2)
    await sign_in(client, tenant.owner_email, tenant.password)
    url = f"/manage/ticket-types/{a.ticket_type_id}/grants"
    page = await client.get(url + "?lang=en")
    assert page.status_code == 200 and "What this ticket admits to" in page.text
    assert f'value="e:{b.event_id}"' in page.text and f'value="s:{b.session_id}"' in page.text
    edit = await client.get(f"/manage/sessions/{a.session_id}/ticket-types/{a.ticket_type_id}/edit")
    assert url in edit.text  # the ticket type's form links here
    form = {
        "csrf": csrf_of(page.text),
        "target_0": f"s:{a.session_id}",
        "mode_0": "entries",
        "target_1": f"e:{b.event_id}",
        "mode_1": "days",
        "allowed_1": "2",
        "window_days_1": "7",
    }
    r = await client.post(url, data=form)
    assert r.status_code == 303 and r.headers["location"] == url
    api = (await client.get(f"/api/v1/ticket-types/{a.ticket_type_id}/grants", headers=tenant.auth)).json()
    assert [(g["session_id"], g["event_id"], g["mode"], g["allowed"], g["window_days"]) for g in api["grants"]] == [
        (a.session_id, None, "entries", 1, None),
        (None, b.event_id, "days", 2, 7),
    ]
    again = await client.get(url)
    assert f'<option value="e:{b.event_id}" selected>' in again.text


async def test_a_bad_line_is_shown_on_its_field_in_both_languages(client, runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    (a,) = await attractions(runtime, actor, 1)
    await sign_in(client, tenant.owner_email, tenant.password)
    url = f"/manage/ticket-types/{a.ticket_type_id}/grants"
    csrf = csrf_of((await client.get(url)).text)
    # Line 3 filled (lines 1–2 empty): the error belongs to line 3's window, not to "grants.0".
    form = {"csrf": csrf, "target_2": f"e:{a.event_id}", "mode_2": "entries", "allowed_2": "1"}
    en = await client.post(url + "?lang=en", data=form)
    assert en.status_code == 422 and 'id="f-window_days_2-error">An event grant needs a window in days.' in en.text
    zh = await client.post(url + "?lang=zh-CN", data=form)
    assert zh.status_code == 422 and "选择活动（景点）时须填写有效天数。" in zh.text
    bad_number = {**form, "window_days_2": "3", "allowed_2": "0"}
    r = await client.post(url + "?lang=en", data=bad_number)
    assert r.status_code == 422 and 'id="f-allowed_2-error"' in r.text
    api = (await client.get(f"/api/v1/ticket-types/{a.ticket_type_id}/grants", headers=tenant.auth)).json()
    assert api["grants"] == []  # nothing stored


async def test_a_granted_event_that_is_over_keeps_its_option(client, runtime, tenant, clock):  # noqa: ANN001
    # The targets are the events with a session not over, plus whatever the type grants now: a saved grant always
    # shows selected, so saving the form again never drops it.
    from datetime import timedelta

    actor = await owner_actor(runtime, tenant.owner_id)
    a, b = await attractions(runtime, actor, 2)
    await sign_in(client, tenant.owner_email, tenant.password)
    url = f"/manage/ticket-types/{a.ticket_type_id}/grants"
    form = {"csrf": csrf_of((await client.get(url)).text), "target_0": f"s:{b.session_id}", "mode_0": "entries"}
    assert (await client.post(url, data=form)).status_code == 303
    clock.advance(timedelta(days=400))  # every session is over
    await sign_in(client, tenant.owner_email, tenant.password)  # and so is the sign-in (12 hours)
    page = (await client.get(url)).text
    assert f'<option value="s:{b.session_id}" selected>' in page
    assert f'value="e:{a.event_id}"' not in page  # over and not granted: not offered
