"""What goes on a printed ticket: the order's facts (passed in as plain values, since this area does not know
orders) joined with the tickets, the session, the venue and the organizer's time zone.

Every printable ticket (back office, shop, API) comes from ``order_pdf``: one layout, one set of rules (valid
tickets only; the holder's name, else the buyer's; the time in the organizer's zone with a bilingual weekday).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from piaowu.catalog import views as catalog_views
from piaowu.core.errors import NotFound
from piaowu.core.money import format_money
from piaowu.db.uow import UnitOfWork
from piaowu.organizers import service as organizers
from piaowu.tickets import repository as repo
from piaowu.tickets import signing
from piaowu.tickets.rendering import TicketPrint, ticket_pdf
from piaowu.tickets.schemas import EntitlementView, TicketStatus

_WEEKDAYS = [
    ("周一", "Mon"),
    ("周二", "Tue"),
    ("周三", "Wed"),
    ("周四", "Thu"),
    ("周五", "Fri"),
    ("周六", "Sat"),
    ("周日", "Sun"),
]


@dataclass(frozen=True)
class LineFacts:
    order_line_id: str
    ticket_type_name: str
    price_minor: int
    holder_name: str = ""


class _OrderLine(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def ticket_type_name(self) -> str: ...
    @property
    def price_minor(self) -> int: ...


class _Order(Protocol):
    """The shape of the orders area's ``OrderOut``, read by attribute (this area may not import orders)."""

    @property
    def id(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def buyer_name(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def lines(self) -> Sequence[_OrderLine]: ...


@dataclass(frozen=True)
class OrderFacts:
    order_id: str
    order_code: str
    buyer_name: str
    currency: str
    lines: Sequence[LineFacts]

    @classmethod
    def of(cls, order: _Order) -> OrderFacts:
        return cls(
            order_id=order.id,
            order_code=order.code,
            buyer_name=order.buyer_name,
            currency=order.currency,
            # Holder names are optional on order lines (real-name products only).
            lines=[
                LineFacts(line.id, line.ticket_type_name, line.price_minor, getattr(line, "holder_name", "") or "")
                for line in order.lines
            ],
        )


def local_label(at: datetime, tz: str) -> str:
    """``2026-06-08 周一 Mon 19:30`` in the organizer's time zone: both languages on one printed line."""
    local = at.astimezone(ZoneInfo(tz))
    zh, en = _WEEKDAYS[local.weekday()]
    return f"{local:%Y-%m-%d} {zh} {en} {local:%H:%M}"


async def order_prints(uow: UnitOfWork, organizer_id: str, order: OrderFacts) -> list[TicketPrint]:
    """The valid tickets of an order, ready to render; raises ``NotFound`` when it has none (unpaid, refunded,
    or another organizer's order)."""
    tickets = [
        t for t in await repo.by_orders(uow.session, organizer_id, [order.order_id]) if t.status == TicketStatus.VALID
    ]
    if not tickets:
        raise NotFound(kind="ticket")
    tz = (await organizers.get_organizer(uow, organizer_id)).timezone
    labels = await catalog_views.session_labels(uow, organizer_id, [t.session_id for t in tickets])
    parts = await repo.entitlements_of(uow.session, organizer_id, [t.id for t in tickets])
    lines = {line.order_line_id: line for line in order.lines}
    out = []
    for t in tickets:
        label = labels.get(t.session_id)
        line = lines.get(t.order_line_id)
        out.append(
            TicketPrint(
                event_name=label.event_name if label else "",
                session_name=label.name if label else "",
                # the venue's zone when it has one: the time people read at the door
                starts_at_local=local_label(label.starts_at, label.timezone or tz) if label else "",
                ticket_type_name=(line.ticket_type_name if line else "") or t.ticket_type_name,
                price=format_money(line.price_minor, order.currency) if line else "",
                order_code=order.order_code,
                holder_name=t.holder_name or (line.holder_name if line else "") or order.buyer_name,
                code=t.code,
                qr_payload=t.qr_payload,
                venue=label.venue if label else "",
                includes=includes(parts.get(t.id, ())),
                seat=seat_label(signing.seat_of(t.qr_payload)),
            )
        )
    return out


def seat_label(seat: tuple[str, str, str] | None) -> str:
    """A printed seat in both languages: ``A区 3排 12号 · Section A Row 3 Seat 12``; empty without a seat."""
    if seat is None:
        return ""
    section, row, number = seat
    zh = section if section.endswith("区") else f"{section}区"  # a section named "A区" already says it
    return f"{zh} {row}排 {number}号 · Section {section} Row {row} Seat {number}"


def includes(parts: Sequence[EntitlementView]) -> str:
    """What a pass admits to, in one bilingual line; empty for a ticket of one session (its rows say it all)."""
    if len(parts) <= 1 and all(e.mode == "entries" for e in parts):
        return ""

    def one(e: EntitlementView) -> str:
        if e.mode == "days":
            return f"{e.label} {e.allowed} 天/days"
        return f"{e.label} ×{e.allowed}" if e.allowed > 1 else e.label

    return " · ".join(one(e) for e in parts)


async def order_pdf(uow: UnitOfWork, organizer_id: str, order: OrderFacts) -> bytes:
    """The order's valid tickets as a PDF, one A6 page each; ``NotFound`` when it has none."""
    return ticket_pdf(await order_prints(uow, organizer_id, order), title=f"Tickets {order.order_code}")
