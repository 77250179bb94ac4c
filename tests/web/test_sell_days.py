"""The box office's session list shows one day: today's sessions on sale first (by event, in start order), the
other days with sessions as one tap, any day by date. A scenic area's daily sessions no longer bury the concert
tonight under months of rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from piaowu.catalog import event_service, session_service, ticket_type_service
from piaowu.catalog.schemas import EventIn, SessionIn, TicketTypeIn
from piaowu.runtime import Runtime
from tests.conftest import Tenant
from tests.factories import owner_actor
from tests.web.helpers import sign_in

PAGE = "/manage/sell"


def _sell_links(html: str) -> list[str]:
    return re.findall(r'href="/manage/sell\?session=([^"]+)"', html)


async def _daily(rt: Runtime, actor, name: str, first: datetime, days: int, *, status: str = "on_sale") -> list[str]:  # noqa: ANN001
    ids = []
    async with rt.uow() as uow:
        ev = await event_service.create_event(uow, actor, EventIn(name=name, is_published=True))
        for i in range(days):
            starts = first + timedelta(days=i)
            s = await session_service.create_session(
                uow,
                actor,
                ev.id,
                SessionIn(starts_at=starts, ends_at=starts + timedelta(hours=2), capacity=50, status=status),
            )
            await ticket_type_service.create_ticket_type(uow, actor, s.id, TicketTypeIn(name="成人", price_minor=100))
            ids.append(s.id)
        await uow.commit()
    return ids


async def test_today_first_then_any_day(runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant, clock) -> None:  # noqa: ANN001
    # 02:00 UTC is 10:00 in Shanghai, the organizer's zone.
    clock.set(datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    actor = await owner_actor(runtime, tenant.owner_id)
    # A scenic area at 16:00 local (08:00 UTC) every day for 40 days, a concert at 19:30 tonight and in a week.
    daily = await _daily(runtime, actor, "玉龙雪山", datetime(2026, 12, 7, 8, 0, tzinfo=UTC), 40)
    concert = await _daily(runtime, actor, "新年音乐会", datetime(2026, 12, 7, 11, 30, tzinfo=UTC), 1)
    later = await _daily(runtime, actor, "新年音乐会 II", datetime(2026, 12, 14, 11, 30, tzinfo=UTC), 1)
    off_sale = await _daily(runtime, actor, "草稿", datetime(2026, 12, 7, 9, 0, tzinfo=UTC), 1, status="draft")
    await sign_in(client, tenant.owner_email, tenant.password)

    r = await client.get(PAGE, headers={"Accept-Language": "en"})
    assert r.status_code == 200
    assert _sell_links(r.text) == [daily[0], concert[0]]  # today's, in start order; no draft
    assert "Today · Mon 7 Dec" in r.text and "Tomorrow · Tue 8 Dec" in r.text
    assert 'aria-current="date">Today · Mon 7 Dec' in r.text
    assert r.text.index("玉龙雪山") < r.text.index("新年音乐会")  # grouped by event, by first start
    assert off_sale[0] not in r.text
    # 14 days as one tap each; the others by date.
    chips = re.findall(r'class="chip" href="/manage/sell\?day=([0-9-]+)"', r.text)
    assert chips[0] == "2026-12-07" and len(chips) == 14

    week = await client.get(f"{PAGE}?day=2026-12-14", headers={"Accept-Language": "zh-CN"})
    assert week.status_code == 200
    assert _sell_links(week.text) == [daily[7], later[0]]
    assert 'aria-current="date">12月14日 周一' in week.text
    far = await client.get(f"{PAGE}?day=2027-01-10")
    assert _sell_links(far.text) == [daily[34]] and 'aria-current="date"' in far.text  # joins the chips
    empty = await client.get(f"{PAGE}?day=2027-06-01", headers={"Accept-Language": "en"})
    assert empty.status_code == 200 and _sell_links(empty.text) == []
    assert "No session is on sale on this day." in empty.text


async def test_with_nothing_today_the_next_day_with_sessions_is_shown(
    runtime: Runtime,
    client: httpx.AsyncClient,
    tenant: Tenant,
    clock,  # noqa: ANN001
) -> None:
    clock.set(datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    actor = await owner_actor(runtime, tenant.owner_id)
    concert = await _daily(runtime, actor, "新年音乐会", datetime(2026, 12, 20, 11, 30, tzinfo=UTC), 1)
    await sign_in(client, tenant.owner_email, tenant.password)
    r = await client.get(PAGE, headers={"Accept-Language": "en"})
    assert _sell_links(r.text) == concert and 'aria-current="date">Sun 20 Dec' in r.text


async def test_nothing_on_sale_says_so(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await sign_in(client, tenant.owner_email, tenant.password)
    r = await client.get(PAGE, headers={"Accept-Language": "en"})
    assert r.status_code == 200 and "No session is on sale right now." in r.text and 'class="chip"' not in r.text


async def test_an_events_page_folds_its_past_sessions(
    runtime: Runtime,
    client: httpx.AsyncClient,
    tenant: Tenant,
    clock,  # noqa: ANN001
) -> None:
    # The back office's event page: coming sessions first, in order; the ones over folded, newest first.
    clock.set(datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    actor = await owner_actor(runtime, tenant.owner_id)
    ids = await _daily(runtime, actor, "玉龙雪山", datetime(2026, 12, 1, 8, 0, tzinfo=UTC), 10)  # 1st to 10th
    async with runtime.uow(readonly=True) as uow:
        from piaowu.catalog.models import Session

        event_id = (await uow.session.get(Session, ids[0])).event_id
    await sign_in(client, tenant.owner_email, tenant.password)
    r = await client.get(f"/manage/events/{event_id}", headers={"Accept-Language": "en"})
    assert r.status_code == 200
    coming, past = r.text.split('<details class="past-sessions">', 1)
    links = re.compile(r'href="/manage/sessions/([^"]+)"')
    assert links.findall(coming) == ids[6:]  # the 7th (today, 16:00 local) onwards
    assert links.findall(past) == ids[5::-1] and "Past: 6 sessions" in past
    zh = await client.get(f"/manage/events/{event_id}", headers={"Accept-Language": "zh-CN"})
    assert "已结束：6 个场次" in zh.text


async def _oldest_then_200_newer(rt: Runtime, tenant: Tenant, clock, *, published: bool) -> list[str]:  # noqa: ANN001
    """A scenic area with a session today, set up before 200 other events (none with a session)."""
    clock.set(datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    actor = await owner_actor(rt, tenant.owner_id)
    oldest = await _daily(rt, actor, "玉龙雪山", datetime(2026, 12, 7, 8, 0, tzinfo=UTC), 1)
    async with rt.uow() as uow:
        for i in range(200):
            clock.advance(timedelta(seconds=1))  # created after it
            await event_service.create_event(uow, actor, EventIn(name=f"其他 {i}", is_published=published))
        await uow.commit()
    return oldest


async def test_the_counter_and_the_gate_see_an_event_older_than_the_last_200(
    runtime: Runtime,
    client: httpx.AsyncClient,
    tenant: Tenant,
    clock,  # noqa: ANN001
) -> None:
    # Both took the newest 200 events (a page of the events list) and looked for sessions in them: a scenic area
    # set up first, selling every day, vanished from the counter and the gate once 200 more events were created.
    oldest = await _oldest_then_200_newer(runtime, tenant, clock, published=False)
    await sign_in(client, tenant.owner_email, tenant.password)
    assert _sell_links((await client.get(PAGE)).text) == oldest
    assert oldest[0] in (await client.get("/gate?setup=1")).text


async def test_the_shop_lists_an_event_older_than_the_newest_200(
    runtime: Runtime,
    client: httpx.AsyncClient,
    tenant: Tenant,
    clock,  # noqa: ANN001
) -> None:
    # The shop read the newest 200 published events and kept those with sessions: 200 newer ones without a
    # session to sell (announced, or over) hid a scenic area set up first.
    oldest = await _oldest_then_200_newer(runtime, tenant, clock, published=True)
    home = await client.get(f"/s/{tenant.slug}")
    assert oldest[0] in home.text
    api = (await client.get(f"/api/v1/shop/{tenant.slug}/events")).json()
    assert [s["id"] for ev in api for s in ev["sessions"]] == oldest
