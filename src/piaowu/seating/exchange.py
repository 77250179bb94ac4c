"""Seat exchange (换座): a sold ticket moves to another seat of its session, in one transaction.

Order of work, all in the caller's one unit of work (so a refusal anywhere leaves everything as it was):

1. the order's row is locked (every writer of an order takes it first: refunds and other exchanges of the same
   order queue behind, in the same lock order as payments — order, then its tickets and lines);
2. the ticket must be valid and never used, its line active and holding a seat, the order paid;
3. the new seat must be a seat of the same session, not the same seat, not kept back, and in a zone priced for
   the line's ticket type (``not_for_ticket_type`` otherwise). Its price may differ from what the line was sold
   for: then the caller must have shown and confirmed the difference (``price_difference_minor`` equal to
   new − old price, else ``exchange_price_differs`` with the difference, and nothing changes), and the
   permissions the money needs are checked now (``orders.price_change``: ``payment.cash`` to collect,
   ``payment.refund`` to refund);
4. the new seat is **claimed first**, for the order's hold, by the engine's guarded claim
   (``inventory.claim_for_hold``): a seat held or sold by anyone else, or kept back meanwhile, refuses the
   exchange with ``seat_taken`` and nothing else has changed;
5. only then the old seat's claim is returned (``inventory.return_claims``, exactly once);
6. the money follows (``orders.price_change.settle``): a dearer seat's amount due is taken as a counter
   payment, a cheaper seat's difference refunded through the order's payments; the line's price and the
   order's total become the new ones;
7. the line's holding and printed labels move to the new seat, the ticket is reissued (old code and QR void,
   a new code and signed QR for the new seat: ``tickets.reissue``, which remembers the old code so the gate
   answers ``replaced`` for it), and ``order.seat_exchanged`` is audited with the prices and the money moved.

At no moment is the ticket without a seat or two tickets on one seat, and a seat is never both free and owned:
the claim and the release are statements of one transaction, committed together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.core.actor import Actor
from piaowu.core.errors import (
    ExchangeNotAllowed,
    ExchangePriceDiffers,
    NotFound,
    SeatBlocked,
    SeatTaken,
    ValidationFailed,
)
from piaowu.core.money import format_money
from piaowu.db.uow import UnitOfWork
from piaowu.inventory import service as inventory
from piaowu.inventory.rules import Claim
from piaowu.orders import price_change, refund_reasons
from piaowu.orders import repository as orders_repo
from piaowu.orders.models import Order, OrderLine, OrderLineHolding
from piaowu.orders.states import REFUNDABLE, LineStatus
from piaowu.seating import repository as repo
from piaowu.seating.exchange_schemas import SeatExchangeIn
from piaowu.seating.models import SessionSeat
from piaowu.tickets import service as tickets
from piaowu.tickets.models import Ticket
from piaowu.tickets.schemas import TicketOut, TicketStatus

SEAT_LEG = 0b1


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    ticket: TicketOut
    old_code: str
    old_seat: dict[str, str]
    new_seat: dict[str, str]
    currency: str
    old_price_minor: int
    new_price_minor: int
    money: price_change.Settlement


def _seat(seat: SessionSeat) -> dict[str, str]:
    return {"id": seat.unit_id, "section": seat.section, "row": seat.row, "number": seat.number, "zone": seat.zone}


def _label(seat: SessionSeat) -> str:
    return f"{seat.section} {seat.row}-{seat.number}"


def _not_a_seat(message: str, code: str = "unknown_seat", **data: Any) -> ValidationFailed:
    return ValidationFailed([{"field": "seat_id", "code": code, "message": message, **data}])


async def exchange_seat(uow: UnitOfWork, actor: Actor, ticket_id: str, data: SeatExchangeIn) -> ExchangeResult:
    """Moves ticket ``ticket_id`` to seat ``data.seat_id`` of its session, with the price difference settled
    (see the module's docstring for the order of work and what each refusal means). Needs ``order.create`` (a
    box-office clerk has it), plus ``payment.cash`` to collect an amount due or ``payment.refund`` to refund a
    difference. Raises ``NotFound`` (ticket of another organizer or none), ``ExchangeNotAllowed`` (409: void,
    used, refunded, unpaid, not a seat ticket), ``ValidationFailed`` (``unknown_seat``, ``same_seat``,
    ``not_for_ticket_type``, ``too_little`` tendered), ``SeatBlocked`` and ``SeatTaken`` (409, ``seats`` with
    labels), ``ExchangePriceDiffers`` (409: the difference was not confirmed), ``PermissionDenied``."""
    actor.require(Permission.ORDER_CREATE)
    org = actor.organizer_id
    seat_id = data.seat_id
    found = (
        await uow.session.execute(select(Ticket.order_id).where(Ticket.id == ticket_id, Ticket.organizer_id == org))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(kind="ticket")
    await orders_repo.lock(uow.session, org, found)
    ticket = (
        await uow.session.execute(select(Ticket).where(Ticket.id == ticket_id, Ticket.organizer_id == org))
    ).scalar_one()
    await uow.session.refresh(ticket)  # read after the lock: a refund that ran meanwhile is seen
    order = (
        await uow.session.execute(select(Order).where(Order.id == ticket.order_id, Order.organizer_id == org))
    ).scalar_one()
    await uow.session.refresh(order)
    line = (
        await uow.session.execute(
            select(OrderLine).where(OrderLine.id == ticket.order_line_id, OrderLine.organizer_id == org)
        )
    ).scalar_one()
    await uow.session.refresh(line)
    if order.status not in REFUNDABLE or order.hold_id is None:
        raise ExchangeNotAllowed(reason="the order is not paid")
    if ticket.status != TicketStatus.VALID or line.status != LineStatus.ACTIVE:
        raise ExchangeNotAllowed(reason="the ticket is no longer valid")
    if ticket.entries_used:
        raise ExchangeNotAllowed(reason="the ticket was already used at a gate")
    held = (
        (
            await uow.session.execute(
                select(OrderLineHolding).where(
                    OrderLineHolding.line_id == line.id,
                    OrderLineHolding.organizer_id == org,
                    OrderLineHolding.unit_id.is_not(None),
                )
            )
        )
        .scalars()
        .all()
    )
    seats = await repo.seats_by_id(uow.session, org, line.session_id, [h.unit_id or "" for h in held] + [seat_id])
    old = next((seats[h.unit_id] for h in held if h.unit_id in seats), None)
    if old is None:
        raise ExchangeNotAllowed(reason="the ticket is not for a seat")
    new = seats.get(seat_id)
    if new is None:
        raise _not_a_seat("This is not a seat of this session.", seat_id=seat_id)
    if new.unit_id == old.unit_id:
        raise _not_a_seat("The ticket is already for this seat.", code="same_seat")
    old_price = line.price_minor
    new_price = await _new_price(uow, org, line, new, order.currency, data.price_difference_minor)
    price_change.require_for(actor, new_price - old_price, data.payment)
    if new.blocked_reason:
        raise SeatBlocked(seats=[_seat(new)])

    # The new seat first: claimed for the order's hold by the guarded statement (seat_taken if not free) …
    try:
        await inventory.claim_for_hold(uow, org, order.hold_id, [Claim(new.unit_id, SEAT_LEG)])
    except SeatTaken:
        raise SeatTaken(pool_ids=[], unit_ids=[new.unit_id], seats=[_seat(new)]) from None
    # … then the old one given back, exactly once (the order's lock makes a second return impossible).
    returned = await inventory.return_claims(uow, order.hold_id, [old.unit_id])
    if returned != [old.unit_id]:
        raise ExchangeNotAllowed(reason="the ticket's seat was already given back")
    money = await price_change.settle(
        uow, actor, order, line, new_price, data.payment, reason=refund_reasons.seat_exchange(_label(old), _label(new))
    )
    await uow.session.execute(
        update(OrderLineHolding)
        .where(OrderLineHolding.line_id == line.id, OrderLineHolding.unit_id == old.unit_id)
        .values(unit_id=new.unit_id)
        .execution_options(synchronize_session=False)
    )
    await uow.session.execute(
        update(OrderLine)
        .where(OrderLine.id == line.id, OrderLine.status == LineStatus.ACTIVE)
        .values(seat_section=new.section, seat_row=new.row, seat_number=new.number)
        .execution_options(synchronize_session=False)
    )
    old_code, reissued = await tickets.reissue(
        uow, actor, org, ticket.id, uow.settings.resolved_secret_key(), seat=(new.section, new.row, new.number)
    )
    # On the order (its history shows it); the ticket's own event is tickets.reissue's ``ticket.reissued``, the
    # money's are payments' ``payment.succeeded`` / ``refund.created``.
    record(
        uow,
        actor,
        "order.seat_exchanged",
        "order",
        order.id,
        before={
            "seat": _label(old),
            "seat_id": old.unit_id,
            "code": old_code,
            "ticket_id": ticket.id,
            "price_minor": old_price,
        },
        after={
            "seat": _label(new),
            "seat_id": new.unit_id,
            "code": reissued.code,
            "ticket_id": ticket.id,
            "price_minor": new_price,
            "difference_minor": money.difference_minor,
            "payment_id": money.payment_id,
            "refund_ids": list(money.refund_ids),
        },
    )
    return ExchangeResult(reissued, old_code, _seat(old), _seat(new), order.currency, old_price, new_price, money)


async def price_difference(uow: UnitOfWork, actor: Actor, ticket_id: str, seat_id: str) -> int:
    """What moving the ticket to this seat would cost (new − old price; reads only, for the page to show before
    the clerk confirms). 0 when the seat or the ticket is not one an exchange could take: the exchange itself
    then says why."""
    actor.require(Permission.ORDER_CREATE)
    org = actor.organizer_id
    line = (
        await uow.session.execute(
            select(OrderLine)
            .join(Ticket, Ticket.order_line_id == OrderLine.id)
            .where(Ticket.id == ticket_id, Ticket.organizer_id == org, OrderLine.organizer_id == org)
        )
    ).scalar_one_or_none()
    if line is None:
        return 0
    seat = (await repo.seats_by_id(uow.session, org, line.session_id, [seat_id])).get(seat_id)
    price = None if seat is None else (await seat_prices(uow, org, line.session_id, line.ticket_type_id)).get(seat.zone)
    return 0 if price is None else price - line.price_minor


async def seat_prices(uow: UnitOfWork, organizer_id: str, session_id: str, ticket_type_id: str) -> dict[str, int]:
    """Zone → price of this ticket type in the session: the zones an exchange of such a ticket may go to."""
    return {
        p.zone: p.price_minor
        for p in await repo.zone_prices(uow.session, organizer_id, session_id)
        if p.ticket_type_id == ticket_type_id
    }


async def _new_price(
    uow: UnitOfWork, org: str, line: OrderLine, new: SessionSeat, currency: str, confirmed: int | None
) -> int:
    """The new seat's price for the line's ticket type. A difference must have been confirmed by the caller
    (the clerk showed it to the buyer): one that was not, or that changed meanwhile, refuses the exchange."""
    price = (await seat_prices(uow, org, line.session_id, line.ticket_type_id)).get(new.zone)
    if price is None:
        raise _not_a_seat(
            "This seat is not sold for this ticket type.", code="not_for_ticket_type", seat_id=new.unit_id
        )
    diff = price - line.price_minor
    if diff and confirmed != diff:
        raise ExchangePriceDiffers(
            seat=_label(new),
            ticket_type=line.ticket_type_name,
            new_price=format_money(price, currency),
            old_price=format_money(line.price_minor, currency),
            difference=format_money(abs(diff), currency),
            difference_minor=diff,
            new_price_minor=price,
            old_price_minor=line.price_minor,
        )
    return price
