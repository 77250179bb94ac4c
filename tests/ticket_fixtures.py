"""Paid tickets for check-in and ticket tests, without going through the sale: an Order and its lines are
written directly (the order flow has its own tests), then the real ``tickets.issue`` signs them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from piaowu.catalog import views as catalog_views
from piaowu.core.actor import Actor
from piaowu.core.ids import human_code
from piaowu.orders.models import Order, OrderLine
from piaowu.runtime import Runtime
from piaowu.tickets import grants as grants_service
from piaowu.tickets import service as tickets
from piaowu.tickets.schemas import GrantsIn, GrantsOut, TicketOut, TicketSpec
from tests.factories import OnSale, on_sale_session


@dataclass
class Issued:
    sale: OnSale
    order_id: str
    order_code: str
    line_ids: list[str]
    tickets: list[TicketOut]
    starts_at: datetime
    ends_at: datetime

    @property
    def ticket(self) -> TicketOut:
        return self.tickets[0]


async def issue_paid(
    rt: Runtime,
    actor: Actor,
    sale: OnSale | None = None,
    *,
    n: int = 1,
    entries_allowed: int = 1,
    holder_name: str = "",
    buyer_name: str = "张三",
) -> Issued:
    """A paid order of ``n`` tickets for ``sale`` (a new on-sale session when None), tickets issued."""
    sale = sale or await on_sale_session(rt, actor)
    async with rt.uow() as uow:
        label = (await catalog_views.session_labels(uow, actor.organizer_id, [sale.session_id]))[sale.session_id]
        now = uow.now()
        order = Order(
            organizer_id=actor.organizer_id,
            code=human_code(8),
            status="paid",
            channel="box_office",
            buyer_name=buyer_name,
            buyer_phone="+8613812345678",
            total_minor=sale.price_minor * n,
            paid_minor=sale.price_minor * n,
            currency="CNY",
            created_at=now,
            paid_at=now,
        )
        uow.session.add(order)
        await uow.session.flush()
        lines = [
            OrderLine(
                order_id=order.id,
                organizer_id=actor.organizer_id,
                session_id=sale.session_id,
                ticket_type_id=sale.ticket_type_id,
                ticket_type_name="A区 Zone A",
                price_minor=sale.price_minor,
                holder_name=holder_name,
            )
            for _ in range(n)
        ]
        uow.session.add_all(lines)
        await uow.session.flush()
        specs = [
            TicketSpec(
                order_id=order.id,
                order_line_id=line.id,
                session_id=sale.session_id,
                valid_from=label.starts_at - timedelta(minutes=label.admission_opens_minutes),
                valid_until=label.ends_at,
                entries_allowed=entries_allowed,
                ticket_type_name=line.ticket_type_name,
                holder_name=holder_name,
                ticket_type_id=sale.ticket_type_id,
            )
            for line in lines
        ]
        issued = await tickets.issue(uow, actor.organizer_id, specs, rt.secret_key)
        await uow.commit()
    return Issued(sale, order.id, order.code, [line.id for line in lines], issued, label.starts_at, label.ends_at)


def at_the_door(rt: Runtime, issued: Issued, before_start: timedelta = timedelta(minutes=30)) -> None:
    """Move the frozen clock to inside the admission window."""
    rt.clock.set(issued.starts_at - before_start)  # type: ignore[attr-defined]


async def attractions(rt: Runtime, actor: Actor, n: int, starts_in: timedelta = timedelta(days=7)) -> list[OnSale]:
    """``n`` attractions of a scenic area, each an event with one on-sale session at the same time."""
    return [await on_sale_session(rt, actor, name=f"景点{i} Attraction {i}", starts_in=starts_in) for i in range(n)]


async def set_grants(rt: Runtime, actor: Actor, ticket_type_id: str, *grants: dict) -> GrantsOut:
    """Give a ticket type these grants (``tickets.grants.set_grants``), as the API would."""
    async with rt.uow() as uow:
        out = await grants_service.set_grants(
            uow, actor, ticket_type_id, GrantsIn.model_validate({"grants": list(grants)})
        )
        await uow.commit()
    return out
