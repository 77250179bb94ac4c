"""Build order responses from rows (shared by every order use case)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row

from piaowu.catalog import views as catalog_views
from piaowu.db.uow import UnitOfWork
from piaowu.orders.models import Order, OrderLine
from piaowu.orders.repository import LineRow
from piaowu.orders.schemas import OrderLineOut, OrderOut, PaymentBrief, SeatOut, TicketBrief
from piaowu.payments import service as payments
from piaowu.payments.service import PaymentInfo
from piaowu.tickets import service as tickets
from piaowu.tickets.schemas import TicketOut


async def order_out(
    uow: UnitOfWork,
    order: Order | Row[Any],
    lines: Sequence[OrderLine | Row[Any] | LineRow],
    *,
    labels: Mapping[str, catalog_views.SessionLabel] | None = None,
    issued: Sequence[TicketOut] | None = None,
    pays: Sequence[PaymentInfo] | None = None,
) -> OrderOut:
    """The order's answer, from its entity and lines' entities or from plain rows of their columns. ``labels``,
    ``issued`` (the order's tickets), ``pays`` (its payments): if the caller read them with the order (else they
    are read here)."""
    if labels is None:
        labels = await catalog_views.session_labels(uow, order.organizer_id, [line.session_id for line in lines])
    if issued is None:
        issued = (await tickets.tickets_for_orders(uow, order.organizer_id, [order.id])).get(order.id, [])
    by_line = {t.order_line_id: t for t in issued}
    if pays is None:
        # Plain rows in, plain reads: a caller that read the order as a row (the buyer's page) changed nothing.
        pays = await payments.payments_of(uow, order.organizer_id, [order.id], plain=isinstance(order, Row))
    out_lines = []
    for line in lines:
        label = labels.get(line.session_id)
        t = by_line.get(line.id)
        out_lines.append(
            OrderLineOut(
                id=line.id,
                session_id=line.session_id,
                ticket_type_id=line.ticket_type_id,
                ticket_type_name=line.ticket_type_name,
                price_minor=line.price_minor,
                status=line.status,
                holder_name=line.holder_name,
                event_name=label.event_name if label else "",
                session_name=label.name if label else "",
                starts_at=label.starts_at if label else None,
                seat=SeatOut(section=line.seat_section, row=line.seat_row, number=line.seat_number)
                if line.seat_section
                else None,
                ticket=TicketBrief(
                    id=t.id,
                    code=t.code,
                    status=t.status,
                    entries_used=t.entries_used,
                    entries_allowed=t.entries_allowed,
                    qr_payload=t.qr_payload,
                    last_entry_at=t.last_entry_at,
                    last_gate=t.last_gate,
                    entitlements=t.entitlements,
                )
                if t
                else None,
            )
        )
    return OrderOut(
        id=order.id,
        code=order.code,
        status=order.status,
        channel=order.channel,
        buyer_name=order.buyer_name,
        buyer_phone=order.buyer_phone,
        buyer_email=order.buyer_email,
        total_minor=order.total_minor,
        paid_minor=order.paid_minor,
        refunded_minor=order.refunded_minor,
        currency=order.currency,
        expires_at=order.expires_at,
        created_at=order.created_at,
        paid_at=order.paid_at,
        lines=out_lines,
        payments=[
            PaymentBrief(
                id=p.id,
                provider=p.provider,
                status=p.status,
                amount_minor=p.amount_minor,
                refunded_minor=p.refunded_minor,
                created_at=p.created_at,  # type: ignore[arg-type]
                succeeded_at=p.succeeded_at,
            )  # type: ignore[arg-type]
            for p in pays
        ],
    )
