"""Sessions in series (catalog.series_service) and event-level ticket types (catalog.event_ticket_type_service),
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from piaowu.audit.models import AuditEvent
from piaowu.catalog import (
    event_service,
    event_ticket_type_service,
    series_service,
    session_service,
    ticket_type_service,
)
from piaowu.catalog import offers as catalog_offers
from piaowu.catalog.models import Session, TicketType
from piaowu.catalog.schemas import EventIn, TicketTypePatch
from piaowu.catalog.series_schemas import EventTicketTypeIn, EventTicketTypePatch, SeriesIn
from piaowu.core.errors import EmptySeries, NotFound, TooManySessions, ValidationFailed
from piaowu.inventory.models import Pool
from piaowu.orders import session_cancel
from tests.factories import owner_actor


async def _event(rt, actor, *, adult: int = 12000, child_quota: int | None = 50) -> tuple[str, str, str]:  # noqa: ANN001
    """An attraction with two event-level ticket types: adult (no quota) and child (a quota per session)."""
    async with rt.uow() as uow:
        ev = await event_service.create_event(uow, actor, EventIn(name="玉龙雪山 Jade Dragon", kind="attraction"))
        a = await event_ticket_type_service.create_definition(
            uow, actor, ev.id, EventTicketTypeIn(name="成人 Adult", price_minor=adult, sort_order=1)
        )
        c = await event_ticket_type_service.create_definition(
            uow, actor, ev.id, EventTicketTypeIn(name="儿童 Child", price_minor=adult // 2, quota=child_quota)
        )
        await uow.commit()
    return ev.id, a.id, c.id


def _daily(first: date, last: date, **kw: object) -> SeriesIn:
    base = {
        "first_date": first,
        "last_date": last,
        "start_times": [time(9, 0)],
        "duration_minutes": 8 * 60,
        "capacity": 300,
        "status": "on_sale",
    }
    return SeriesIn.model_validate(base | kw)


async def _generate(rt, actor, event_id: str, data: SeriesIn):  # noqa: ANN001, ANN202
    async with rt.uow() as uow:
        out = await series_service.generate_series(uow, actor, event_id, data)
        await uow.commit()
    return out


async def _count(rt, model, *where) -> int:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        return (await uow.session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def test_thirty_daily_sessions_each_with_its_pool_and_the_events_ticket_types(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    event_id, adult_id, child_id = await _event(runtime, actor)
    pools_before = await _count(runtime, Pool)
    out = await _generate(runtime, actor, event_id, _daily(date(2026, 7, 1), date(2026, 7, 30)))
    assert (out.planned, out.created, out.existing, out.ticket_types) == (30, 30, 0, 2)
    assert out.timezone == "Asia/Shanghai" and not out.dry_run
    # 30 session pools + 30 child quota pools.
    assert await _count(runtime, Pool) - pools_before == 60
    async with runtime.uow(readonly=True) as uow:
        ev = await event_service.get_event(uow, actor, event_id)
    assert len(ev.sessions) == 30
    for s in ev.sessions:
        local = s.starts_at.astimezone(ZoneInfo("Asia/Shanghai"))
        assert (local.hour, local.minute) == (9, 0) and s.capacity == 300 and s.sale_state == "on_sale"
        types = {t.definition_id: t for t in s.ticket_types}
        assert set(types) == {adult_id, child_id}
        assert types[adult_id].price_minor == 12000 and types[adult_id].quota is None
        assert types[child_id].price_minor == 6000 and types[child_id].quota == 50
    assert await _count(runtime, AuditEvent, AuditEvent.action == "session.created") == 30
    assert await _count(runtime, AuditEvent, AuditEvent.action == "event.series_generated") == 1


async def test_tuesdays_and_fridays_across_the_berlin_dst_change_keep_1930(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    event_id, *_ = await _event(runtime, actor)
    data = _daily(
        date(2026, 3, 2),
        date(2026, 4, 26),
        weekdays=[1, 4],
        start_times=[time(19, 30)],
        duration_minutes=150,
        timezone="Europe/Berlin",
    )
    out = await _generate(runtime, actor, event_id, data)
    assert out.created == 16
    async with runtime.uow(readonly=True) as uow:
        sessions = (await event_service.get_event(uow, actor, event_id)).sessions
    local = [s.starts_at.astimezone(ZoneInfo("Europe/Berlin")) for s in sessions]
    assert {(t.weekday(), t.hour, t.minute) for t in local} == {(1, 19, 30), (4, 19, 30)}
    assert {s.starts_at.hour for s in sessions} == {17, 18}  # UTC moves with the clocks, the wall clock does not


async def test_running_a_rule_again_or_a_longer_one_adds_only_the_missing_sessions(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    event_id, *_ = await _event(runtime, actor)
    first = await _generate(runtime, actor, event_id, _daily(date(2026, 7, 1), date(2026, 7, 10)))
    again = await _generate(runtime, actor, event_id, _daily(date(2026, 7, 1), date(2026, 7, 10)))
    assert (again.created, again.existing) == (0, 10)
    assert [s.session_id for s in again.sessions] == [s.session_id for s in first.sessions]
    longer = await _generate(runtime, actor, event_id, _daily(date(2026, 7, 5), date(2026, 7, 20)))
    assert (longer.planned, longer.created, longer.existing) == (16, 10, 6)
    assert await _count(runtime, Session, Session.event_id == event_id) == 20
    assert await _count(runtime, TicketType) == 40


async def test_a_sold_session_is_left_alone_when_the_rule_is_run_again(runtime, client, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    event_id, adult_id, _ = await _event(runtime, actor)
    out = await _generate(runtime, actor, event_id, _daily(date(2026, 6, 2), date(2026, 6, 4)))
    async with runtime.uow(readonly=True) as uow:
        s = await session_service.get_session(uow, actor, out.sessions[0].session_id)
    adult = next(t for t in s.ticket_types if t.definition_id == adult_id)
    from tests.order_helpers import create_order

    order = (await create_order(client, tenant.auth, adult.id, 2)).json()
    assert (
        await client.post(f"/api/v1/orders/{order['id']}/pay", json={"method": "cash"}, headers=tenant.auth)
    ).is_success
    # Another capacity in the re-run: existing sessions keep theirs (and their sales).
    again = await _generate(runtime, actor, event_id, _daily(date(2026, 6, 2), date(2026, 6, 4), capacity=5))
    assert again.created == 0
    async with runtime.uow(readonly=True) as uow:
        s = await session_service.get_session(uow, actor, s.id)
    assert (s.capacity, s.sold) == (300, 2)


async def test_a_price_set_on_one_session_survives_a_new_price_on_the_definition(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    event_id, adult_id, child_id = await _event(runtime, actor)
    out = await _generate(runtime, actor, event_id, _daily(date(2026, 7, 1), date(2026, 7, 3)))
    async with runtime.uow(readonly=True) as uow:
        ev = await event_service.get_event(uow, actor, event_id)
    holiday = next(t for t in ev.sessions[1].ticket_types if t.definition_id == adult_id)
    async with runtime.uow() as uow:  # the same price sent again (as the page's form does) is not an override
        same = await ticket_type_service.update_ticket_type(
            uow, actor, holiday.id, TicketTypePatch(price_minor=12000, description="节日 Holiday")
        )
        await uow.commit()
    assert not same.price_overridden
    async with runtime.uow() as uow:
        changed = await ticket_type_service.update_ticket_type(
            uow, actor, holiday.id, TicketTypePatch(price_minor=15000)
        )
        await uow.commit()
    assert changed.price_overridden and changed.price_minor == 15000
    async with runtime.uow() as uow:
        d = await event_ticket_type_service.update_definition(
            uow,
            actor,
            adult_id,
            EventTicketTypePatch(price_minor=13000, name="成人票 Adult", max_per_order=6),
        )
        await uow.commit()
    assert (d.sessions, d.applied_to) == (3, 3)  # the holiday takes the new name and limit, not the price
    async with runtime.uow(readonly=True) as uow:
        ev = await event_service.get_event(uow, actor, event_id)
        offers = await catalog_offers.offers_for(uow, actor.organizer_id, [holiday.id])
    adults = [next(t for t in s.ticket_types if t.definition_id == adult_id) for s in ev.sessions]
    assert [t.price_minor for t in adults] == [13000, 15000, 13000]
    assert {t.name for t in adults} == {"成人票 Adult"} and {t.max_per_order for t in adults} == {6}
    assert offers[holiday.id].price_minor == 15000  # what the sale path reads
    children = [next(t for t in s.ticket_types if t.definition_id == child_id) for s in ev.sessions]
    assert {t.price_minor for t in children} == {6000}  # other definitions untouched
    assert out.created == 3


async def test_a_definitions_quota_applies_to_sessions_generated_later(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    event_id, _, child_id = await _event(runtime, actor)
    await _generate(runtime, actor, event_id, _daily(date(2026, 7, 1), date(2026, 7, 1)))
    async with runtime.uow() as uow:
        await event_ticket_type_service.update_definition(uow, actor, child_id, EventTicketTypePatch(quota=None))
        await uow.commit()
    await _generate(runtime, actor, event_id, _daily(date(2026, 7, 2), date(2026, 7, 2)))
    async with runtime.uow(readonly=True) as uow:
        ev = await event_service.get_event(uow, actor, event_id)
    quotas = [next(t for t in s.ticket_types if t.definition_id == child_id).quota for s in ev.sessions]
    assert quotas == [50, None]


async def test_inactive_definitions_are_not_generated_and_a_bad_edit_is_refused(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    event_id, adult_id, child_id = await _event(runtime, actor)
    async with runtime.uow() as uow:
        await event_ticket_type_service.update_definition(uow, actor, child_id, EventTicketTypePatch(is_active=False))
        await uow.commit()
    out = await _generate(runtime, actor, event_id, _daily(date(2026, 7, 1), date(2026, 7, 2)))
    assert out.ticket_types == 1
    async with runtime.uow() as uow:
        with pytest.raises(ValidationFailed):
            await event_ticket_type_service.update_definition(
                uow, actor, adult_id, EventTicketTypePatch(min_per_order=20, max_per_order=5)
            )


async def test_over_the_cap_or_empty_writes_nothing_and_a_dry_run_writes_nothing(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    event_id, *_ = await _event(runtime, actor)
    sessions_before, audit_before = await _count(runtime, Session), await _count(runtime, AuditEvent)
    with pytest.raises(TooManySessions):
        await _generate(runtime, actor, event_id, _daily(date(2026, 1, 1), date(2027, 12, 31)))
    with pytest.raises(EmptySeries):
        await _generate(runtime, actor, event_id, _daily(date(2026, 7, 4), date(2026, 7, 5), weekdays=[0]))
    preview = await _generate(runtime, actor, event_id, _daily(date(2026, 7, 1), date(2026, 7, 30), dry_run=True))
    assert preview.dry_run and (preview.planned, preview.created) == (30, 0)
    assert all(not s.exists and s.session_id is None for s in preview.sessions)
    assert (await _count(runtime, Session), await _count(runtime, AuditEvent)) == (sessions_before, audit_before)


async def test_another_organizer_cannot_generate_or_see_definitions(runtime, tenant, other_tenant):
    mine = await owner_actor(runtime, tenant.owner_id)
    theirs = await owner_actor(runtime, other_tenant.owner_id)
    event_id, adult_id, _ = await _event(runtime, mine)
    async with runtime.uow() as uow:
        with pytest.raises(NotFound):
            await series_service.generate_series(uow, theirs, event_id, _daily(date(2026, 7, 1), date(2026, 7, 1)))
        with pytest.raises(NotFound):
            await event_ticket_type_service.list_definitions(uow, theirs, event_id)
        with pytest.raises(NotFound):
            await event_ticket_type_service.update_definition(
                uow, theirs, adult_id, EventTicketTypePatch(price_minor=1)
            )
    assert await _count(runtime, Session) == 0


async def test_a_new_definition_can_be_added_to_the_current_sessions_but_not_to_past_or_cancelled_ones(runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    event_id, *_ = await _event(runtime, actor)
    # The clock is 2026-06-01 10:00 in Shanghai: 30 and 31 May are over, 1 June is running, 3 June is cancelled.
    out = await _generate(runtime, actor, event_id, _daily(date(2026, 5, 30), date(2026, 6, 3)))
    async with runtime.uow() as uow:
        await session_cancel.cancel_session(uow, actor, out.sessions[4].session_id)
        await uow.commit()
    async with runtime.uow() as uow:
        later = await event_ticket_type_service.create_definition(
            uow, actor, event_id, EventTicketTypeIn(name="老年 Senior", price_minor=3000)
        )
        senior = await event_ticket_type_service.create_definition(
            uow, actor, event_id, EventTicketTypeIn(name="老年 Senior", price_minor=3000, add_to_sessions=True)
        )
        await uow.commit()
    assert (later.sessions, later.applied_to) == (0, None)
    assert (senior.sessions, senior.applied_to) == (2, 2)
    async with runtime.uow(readonly=True) as uow:
        ev = await event_service.get_event(uow, actor, event_id)
    having = [any(t.definition_id == senior.id for t in s.ticket_types) for s in ev.sessions]
    assert having == [False, False, True, True, False]
