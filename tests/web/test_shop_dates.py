"""An event with many dates (a scenic area sold by the day): the shop's front page shows its next few sessions and
a link to all of them; the event page shows a month calendar (each day's state and lowest price) and every
coming session by day. Past, draft and cancelled sessions are not offered; another organizer's or an unpublished
event is not found."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from piaowu.catalog import event_service, session_service, ticket_type_service
from piaowu.catalog.schemas import EventIn, SessionIn, SessionPatch, TicketTypeIn
from piaowu.runtime import Runtime
from tests.conftest import Tenant, make_tenant
from tests.factories import on_sale_session, owner_actor

# The test clock is Monday 1 June 2026, 10:00 in Shanghai.


async def daily_event(
    rt: Runtime,
    tenant: Tenant,
    days: int,
    *,
    every: int = 1,
    published: bool = True,
    name: str = "玉龙雪山 Snow Mountain",
) -> tuple[str, list[str]]:
    """An event with ``days`` sessions at 08:00, one every ``every`` days from tomorrow (¥50 adults, ¥25 children)."""
    actor = await owner_actor(rt, tenant.owner_id)
    base = rt.clock.now().replace(hour=0, minute=0) + timedelta(days=1)  # 08:00 Shanghai
    ids = []
    async with rt.uow() as uow:
        ev = await event_service.create_event(
            uow, actor, EventIn(name=name, venue_name="游客中心", is_published=published)
        )
        for day in range(days):
            s = await session_service.create_session(
                uow,
                actor,
                ev.id,
                SessionIn(
                    starts_at=base + timedelta(days=day * every),
                    ends_at=base + timedelta(days=day * every, hours=9),
                    capacity=100,
                    status="on_sale",
                ),
            )
            for label, price in (("成人 Adult", 5000), ("儿童 Child", 2500)):
                await ticket_type_service.create_ticket_type(
                    uow, actor, s.id, TicketTypeIn(name=label, price_minor=price, max_per_order=10)
                )
            ids.append(s.id)
        await uow.commit()
    return ev.id, ids


async def test_the_front_page_shows_the_next_four_sessions_and_links_to_all_dates(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    event_id, sessions = await daily_event(runtime, tenant, 6)
    actor = await owner_actor(runtime, tenant.owner_id)
    concert = await on_sale_session(runtime, actor, starts_in=timedelta(days=20))
    home = (await client.get(f"/s/{tenant.slug}")).text
    shown = [s for s in sessions if f"/sessions/{s}" in home]
    assert shown == sessions[:4]
    assert f'href="/s/{tenant.slug}/events/{event_id}"' in home and "全部日期（6）" in home
    # The concert, three weeks later, is listed after four rows of the daily event, not after all of them.
    assert f"/sessions/{concert.session_id}" in home
    assert f"/events/{concert.event_id}" not in home  # one date: no link to more
    en = (await client.get(f"/s/{tenant.slug}", headers={"Accept-Language": "en"})).text
    assert "All dates (6)" in en
    # A buyer who opened the wrong day finds the others from the session's page; a one-date event has no link.
    day = (await client.get(f"/s/{tenant.slug}/sessions/{sessions[2]}")).text
    assert f'<a href="/s/{tenant.slug}/events/{event_id}">其他日期（5）</a>' in day
    assert "/events/" not in (await client.get(f"/s/{tenant.slug}/sessions/{concert.session_id}")).text


async def test_the_event_page_shows_a_calendar_and_every_coming_session_by_day(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    event_id, sessions = await daily_event(runtime, tenant, 12, every=3)  # 2 June to 5 July
    actor = await owner_actor(runtime, tenant.owner_id)
    async with runtime.uow() as uow:
        # The second date gets an afternoon session too; the third's only session is paused, and a draft is added.
        first = await session_service.get_session(uow, actor, sessions[1])
        await session_service.create_session(
            uow,
            actor,
            event_id,
            SessionIn(
                starts_at=first.starts_at + timedelta(hours=6),
                ends_at=first.starts_at + timedelta(hours=8),
                capacity=10,
                status="on_sale",
            ),
        )
        await session_service.update_session(uow, actor, sessions[2], SessionPatch(status="paused"))
        draft = await session_service.create_session(
            uow,
            actor,
            event_id,
            SessionIn(
                starts_at=first.starts_at + timedelta(days=3, hours=6),
                ends_at=first.starts_at + timedelta(days=3, hours=8),
                capacity=10,
                status="draft",
            ),
        )
        await uow.commit()
    r = await client.get(f"/s/{tenant.slug}/events/{event_id}")
    assert r.status_code == 200, r.text
    page = r.text
    assert "<h1>玉龙雪山 Snow Mountain</h1>" in page
    captions = re.findall(r"<caption>(.*?)</caption>", page)
    assert captions == ["2026年6月", "2026年7月"]
    # A day with one session links to it, a day with two to its place in the list.
    assert re.search(
        rf'href="/s/{tenant.slug}/sessions/{sessions[0]}">\s*<span class="d">2</span>\s*<span class="p">¥25</span>'
        r'\s*<span class="sr-only">2026年6月2日 周二: 可购买, ¥25.00 起</span>',
        page,
    )
    assert 'href="#d-2026-06-05"' in page and 'id="d-2026-06-05"' in page and "2 个场次" in page
    assert re.search(r'class="has off st-paused">\s*<a href="/s/[^"]+/sessions/' + sessions[2], page)
    assert f"/sessions/{draft.id}" not in page  # the draft is not offered
    listed = re.findall(r'class="session-row[^"]*" href="/s/[^/]+/sessions/(\w+)"', page)
    assert len(listed) == 13 and len(set(listed)) == 13  # 12 days and one afternoon session more
    en = (await client.get(f"/s/{tenant.slug}/events/{event_id}?lang=en")).text
    assert "<caption>June 2026</caption>" in en and "Choose a date" in en


async def test_a_few_dates_are_a_list_and_past_sessions_are_not_offered(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    event_id, sessions = await daily_event(runtime, tenant, 3)
    runtime.clock.advance(timedelta(days=1, hours=10))  # the first day's session is over
    page = (await client.get(f"/s/{tenant.slug}/events/{event_id}")).text
    assert "<table" not in page
    assert f"/sessions/{sessions[0]}" not in page
    assert all(f"/sessions/{s}" in page for s in sessions[1:])


async def test_unknown_unpublished_and_other_organizers_events_are_not_found(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    hidden_id, _ = await daily_event(runtime, tenant, 2, published=False)
    other = await make_tenant(runtime, slug="other-scenic")
    theirs, _ = await daily_event(runtime, other, 2)
    for url in (
        f"/s/{tenant.slug}/events/{hidden_id}",
        f"/s/{tenant.slug}/events/{theirs}",
        f"/s/{tenant.slug}/events/nope",
    ):
        r = await client.get(url)
        assert r.status_code == 404, url
        assert "<table" not in r.text
    assert (await client.get(f"/s/{other.slug}/events/{theirs}")).status_code == 200
