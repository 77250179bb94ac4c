"""Back-office seat exchange (换座): from the order page, a sold ticket moves to another seat of its session,
picked on the map among the free seats of the zones priced for its ticket type (``seating.exchange``, the use
case the API's ``POST /tickets/{id}/exchange-seat`` calls too).

A seat at the same price is exchanged at once. A seat at another price is not: the page first shows the
difference — the amount due and how it is taken (cash or card terminal, with the amount tendered), or the
amount refunded — and exchanges only when the clerk confirms that difference (sent back as ``difference``; if
the price changed meanwhile the use case refuses and the page shows the new one)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from piaowu.accounts.permissions import Permission
from piaowu.core.errors import NotFound
from piaowu.core.money import format_money
from piaowu.orders import service as orders
from piaowu.orders.schemas import CashPaymentIn
from piaowu.seating import exchange, office, session_seating
from piaowu.seating.exchange_schemas import SeatExchangeIn
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import FormErrors, attempt, page, read_form, redirect, translator
from piaowu.web.templating import flash

router = APIRouter()


async def _exchange_page(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    order_id: str,
    ticket_id: str,
    *,
    errors: FormErrors | None = None,
    status_code: int = 200,
    picked: str = "",
    form: dict[str, str] | None = None,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        order = await orders.get_order(uow, actor, order_id)
        line = next((x for x in order.lines if x.ticket and x.ticket.id == ticket_id), None)
        if line is None or line.seat is None:
            raise NotFound(kind="ticket")
        states = await office.seat_states(uow, actor, line.session_id)
        prices = await session_seating.zone_prices(uow, actor.organizer_id, line.session_id)
    current = next(
        (
            st.seat.unit_id
            for st in states
            if (st.seat.section, st.seat.row, st.seat.number) == (line.seat.section, line.seat.row, line.seat.number)
        ),
        None,
    )
    # The seats offered are those of the zones priced for this line's ticket type; each zone's price and its
    # difference to what the ticket was sold for are in the legend, the chosen seat's in the confirmation.
    price_of = {p.zone: p.price_minor for p in prices if p.ticket_type_id == line.ticket_type_id}
    zones = list(dict.fromkeys(st.seat.zone for st in states))
    confirm = None
    new = next((st.seat for st in states if st.seat.unit_id == picked), None)
    if new is not None and new.zone in price_of and price_of[new.zone] != line.price_minor:
        diff = price_of[new.zone] - line.price_minor
        need = Permission.PAYMENT_CASH if diff > 0 else Permission.REFUND
        confirm = {
            "seat_id": new.unit_id,
            "label": f"{new.section} {new.row}-{new.number}",
            "zone": new.zone,
            "new_price": price_of[new.zone],
            "difference": diff,
            "allowed": actor.can(need),
        }
    ctx: dict[str, Any] = {
        "order": order,
        "line": line,
        "seats_json": json.dumps([st.row() for st in states], ensure_ascii=False, separators=(",", ":")),
        "zones": zones,
        "allowed": sorted(price_of),
        "price_of": price_of,
        "current": [current] if current else [],
        "free": sum(1 for st in states if st.state == "free" and st.seat.zone in price_of),
        "errors": errors or {},
        "confirm": confirm,
        "form": form or {},
    }
    return await page(request, rt, actor, "manage/seat_exchange.html", ctx, active="orders", status_code=status_code)


@router.get("/orders/{order_id}/tickets/{ticket_id}/exchange")
async def exchange_form(request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str, ticket_id: str) -> Response:
    return await _exchange_page(request, rt, actor, order_id, ticket_id)


def _command(seat: str, form: dict[str, str], confirmed: str) -> SeatExchangeIn:
    tendered = form.get("tendered", "").strip()
    return SeatExchangeIn(
        seat_id=seat,
        price_difference_minor=int(confirmed) if confirmed else None,
        payment=CashPaymentIn(
            method=form.get("method") or "cash",
            tendered_minor=round(float(tendered) * 100) if tendered else None,
        ),
    )


@router.post("/orders/{order_id}/tickets/{ticket_id}/exchange")
async def exchange_post(request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str, ticket_id: str) -> Response:
    form = await read_form(request)  # the CSRF check
    seats = [str(v) for v in (await request.form()).getlist("seat")]
    _ = translator(request)
    if len(seats) != 1:
        errors = {"seat": _("Choose one seat on the map.")}
        return await _exchange_page(request, rt, actor, order_id, ticket_id, errors=errors, status_code=422)
    async with rt.uow(readonly=True) as uow:  # the ticket must be of this order (the path says so)
        order = await orders.get_order(uow, actor, order_id)
    if not any(x.ticket and x.ticket.id == ticket_id for x in order.lines):
        raise NotFound(kind="ticket")
    confirmed = form.get("difference", "").strip()
    again = {"picked": seats[0], "form": form}
    if not confirmed:
        async with rt.uow(readonly=True) as uow:
            diff = await exchange.price_difference(uow, actor, ticket_id, seats[0])
        if diff:  # another price: the page shows the difference and asks the clerk to confirm it first
            return await _exchange_page(request, rt, actor, order_id, ticket_id, **again)
    try:
        command = _command(seats[0], form, confirmed)
    except (ValueError, OverflowError, ValidationError):
        errors = {"tendered": _("Enter an amount in yuan, like 500 or 380.50.")}
        return await _exchange_page(request, rt, actor, order_id, ticket_id, errors=errors, status_code=422, **again)
    done, errors = await attempt(
        request,
        rt,
        lambda uow: exchange.exchange_seat(uow, actor, ticket_id, command),
        {"seat_id": "seat", "payment.tendered_minor": "tendered"},
    )
    if done is None:
        tendered = errors.pop("tendered", None)
        errors = {"seat": errors.pop("seat", None) or errors.pop("form", "")} if errors else {}
        if tendered:
            errors["tendered"] = tendered
        return await _exchange_page(request, rt, actor, order_id, ticket_id, errors=errors, status_code=409, **again)
    old, new = done.old_seat, done.new_seat
    text = _(
        "Seat changed: {old} → {new}. The old ticket {old_code} is void; print the new one ({code}).",
        old=f"{old['section']} {old['row']}-{old['number']}",
        new=f"{new['section']} {new['row']}-{new['number']}",
        old_code=done.old_code,
        code=done.ticket.code,
    )
    diff, money = done.money.difference_minor, done.money
    if diff > 0:
        text += " " + _("Collected {amount}.", amount=format_money(diff, done.currency))
        if money.change_minor:
            text += " " + _("Change due: {amount}", amount=format_money(money.change_minor, done.currency))
    elif diff < 0:
        # An online payment's part is only asked of its provider after commit: say so, not "refunded".
        queued = money.refund_queued_minor
        if -diff - queued:
            text += " " + _("Refunded {amount}.", amount=format_money(-diff - queued, done.currency))
        if queued:
            text += " " + _(
                "Refund of {amount} requested from the online payment's provider; the order's history shows when "
                "it is paid back.",
                amount=format_money(queued, done.currency),
            )
    flash(request, text, "success")
    return redirect(f"/manage/orders/{order_id}")
