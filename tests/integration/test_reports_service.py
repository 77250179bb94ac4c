"""The back office's read side: today's figures in the organizer's time zone, upcoming load, audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from piaowu.catalog import event_service, session_service
from piaowu.catalog.schemas import EventIn, SessionIn
from piaowu.core.errors import PermissionDenied
from piaowu.core.reading_locale import reading
from piaowu.orders.payment_flow import pay_at_counter
from piaowu.orders.schemas import CashPaymentIn
from piaowu.reports import service as reports
from piaowu.reports.service import day_bounds
from piaowu.runtime import Runtime
from tests.factories import actor_for_user, on_sale_session, owner_actor, pending_order, staff_member


def test_today_is_the_organizers_calendar_day() -> None:
    # 17:00 UTC on 1 June is 01:00 on 2 June in Shanghai: "today" is 2 June there.
    start, end = day_bounds(datetime(2026, 6, 1, 17, 0, tzinfo=UTC), "Asia/Shanghai")
    assert start == datetime(2026, 6, 1, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 6, 2, 16, 0, tzinfo=UTC)


async def _sell(rt: Runtime, actor, ticket_type_id: str, qty: int, *, pay: bool) -> str:  # noqa: ANN001
    order = await pending_order(rt, actor, ticket_type_id, qty)
    if pay:
        async with rt.uow() as uow:
            await pay_at_counter(uow, actor, order.id, CashPaymentIn())
            await uow.commit()
    return order.id


async def test_dashboard_counts_todays_paid_orders_only(runtime: Runtime, tenant, other_tenant, clock) -> None:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=50, price_minor=10000)
    clock.advance(timedelta(days=-1))
    await _sell(runtime, actor, sale.ticket_type_id, 1, pay=True)  # yesterday: not today's takings
    clock.advance(timedelta(days=1))
    paid_id = await _sell(runtime, actor, sale.ticket_type_id, 3, pay=True)
    await _sell(runtime, actor, sale.ticket_type_id, 2, pay=False)  # pending: held, not sold
    other = await owner_actor(runtime, other_tenant.owner_id)
    other_sale = await on_sale_session(runtime, other, capacity=5)
    await _sell(runtime, other, other_sale.ticket_type_id, 1, pay=True)  # another organizer's

    async with runtime.uow(readonly=True) as uow:
        board = await reports.dashboard(uow, actor)
        trail = await reports.order_audit(uow, actor, paid_id)
        foreign = await reports.order_audit(uow, other, paid_id)
    assert (board.sales.orders, board.sales.tickets, board.sales.revenue_minor) == (1, 3, 30000)
    (load,) = board.upcoming
    assert (load.sold, load.held, load.capacity) == (4, 2, 50)
    actions = [e.action for e in trail]
    assert actions[0] == "order.created" and "order.paid" in actions
    assert any(e.actor_name == "Owner" for e in trail)
    assert foreign == []  # the trail is scoped by organizer


async def test_dashboard_needs_a_sales_or_reports_role(runtime: Runtime, tenant) -> None:  # noqa: ANN001
    gate = await staff_member(runtime, tenant.organizer_id, "gate", "g@x.cn")
    async with runtime.uow(readonly=True) as uow:
        with pytest.raises(PermissionDenied):
            await reports.dashboard(uow, actor_for_user(gate))


async def test_upcoming_sessions_are_named_in_the_readers_language(runtime: Runtime, tenant) -> None:  # noqa: ANN001
    # The dashboard read the plain columns (the organizer's default language): an English back office listed
    # "新年音乐会" where the events page said "New Year Concert".
    actor = await owner_actor(runtime, tenant.owner_id)
    now = runtime.clock.now()
    async with runtime.uow() as uow:
        ev = await event_service.create_event(
            uow, actor, EventIn(name_i18n={"zh-CN": "新年音乐会", "en": "New Year Concert"}, is_published=True)
        )
        await session_service.create_session(
            uow,
            actor,
            ev.id,
            SessionIn(
                name_i18n={"zh-CN": "晚场", "en": "Evening"},
                starts_at=now + timedelta(days=2),
                ends_at=now + timedelta(days=2, hours=3),
                capacity=10,
            ),
        )
        only_zh = await event_service.create_event(uow, actor, EventIn(name="西湖游船", is_published=True))
        await session_service.create_session(
            uow,
            actor,
            only_zh.id,
            SessionIn(starts_at=now + timedelta(days=3), ends_at=now + timedelta(days=3, hours=1), capacity=10),
        )
        await uow.commit()

    async def names(locale: str | None) -> list[tuple[str, str]]:
        with reading(locale):
            async with runtime.uow(readonly=True) as uow:
                board = await reports.dashboard(uow, actor)
        return [(s.event_name, s.session_name) for s in board.upcoming]

    assert await names("en") == [("New Year Concert", "Evening"), ("西湖游船", "")]  # no English: the default's
    assert await names("zh_CN") == [("新年音乐会", "晚场"), ("西湖游船", "")]
    assert await names(None) == [("新年音乐会", "晚场"), ("西湖游船", "")]  # outside a request: the default
