"""Builders for test data, through the real services (no hand-written rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from piaowu.accounts import service as accounts
from piaowu.accounts.service import StaffInfo, actor_for_user
from piaowu.accounts.service import staff_actor as _staff_actor
from piaowu.catalog import event_service, session_service, ticket_type_service
from piaowu.catalog.schemas import EventIn, SessionIn, TicketTypeIn
from piaowu.core.actor import Actor
from piaowu.orders import service as orders
from piaowu.orders.schemas import BuyerIn, OrderIn, OrderItemIn, OrderOut
from piaowu.runtime import Runtime

__all__ = ["OnSale", "owner_actor", "on_sale_session", "actor_for_user", "staff_member", "pending_order"]


async def owner_actor(rt: Runtime, owner_id: str) -> Actor:
    async with rt.uow(readonly=True) as uow:
        return await _staff_actor(uow, owner_id)


async def staff_member(
    rt: Runtime, organizer_id: str, role: str, email: str, password: str = "correct horse"
) -> StaffInfo:
    """A staff member of ``role`` who can sign in with ``email`` and ``password`` (created as set-up would)."""
    async with rt.uow() as uow:
        user = await accounts.create_user(
            uow,
            None,
            rt.passwords,
            organizer_id=organizer_id,
            email=email,
            name=role.title(),
            password=password,
            role=role,
        )
        await uow.commit()
    return user


@dataclass
class OnSale:
    event_id: str
    session_id: str
    ticket_type_id: str
    price_minor: int
    other_ticket_type_id: str | None = None


async def on_sale_session(
    rt: Runtime,
    actor: Actor,
    *,
    capacity: int = 100,
    price_minor: int = 18000,
    quota: int | None = None,
    max_per_order: int = 10,
    starts_in: timedelta = timedelta(days=7),
    second_type: bool = False,
    name: str = "测试音乐会 Test Concert",
) -> OnSale:
    now = rt.clock.now()
    async with rt.uow() as uow:
        ev = await event_service.create_event(
            uow, actor, EventIn(name=name, venue_name="Grand Hall", is_published=True)
        )
        s = await session_service.create_session(
            uow,
            actor,
            ev.id,
            SessionIn(
                name="Evening",
                starts_at=now + starts_in,
                ends_at=now + starts_in + timedelta(hours=3),
                capacity=capacity,
                status="on_sale",
            ),
        )
        tt = await ticket_type_service.create_ticket_type(
            uow,
            actor,
            s.id,
            TicketTypeIn(name="A区 Zone A", price_minor=price_minor, quota=quota, max_per_order=max_per_order),
        )
        other = None
        if second_type:
            other = await ticket_type_service.create_ticket_type(
                uow, actor, s.id, TicketTypeIn(name="B区 Zone B", price_minor=price_minor // 2, max_per_order=10)
            )
        await uow.commit()
    return OnSale(ev.id, s.id, tt.id, price_minor, other.id if other else None)


async def pending_order(rt: Runtime, actor: Actor, ticket_type_id: str, qty: int = 1) -> OrderOut:
    """An unpaid order of ``qty`` tickets (units held until it expires), as the box office or the API makes it."""
    async with rt.uow() as uow:
        out = await orders.create_order(
            uow,
            actor,
            OrderIn(
                items=[OrderItemIn(ticket_type_id=ticket_type_id, quantity=qty)],
                buyer=BuyerIn(name="李四", phone="13900001111"),
            ),
        )
        await uow.commit()
    return out
