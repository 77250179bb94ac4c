"""Back-office seat exchange (换座): from the order page, a sold ticket moves to another seat of its session,
picked on the map among the free seats sold at the same price for its ticket type (``seating.exchange``, the
use case the API's ``POST /tickets/{id}/exchange-seat`` calls too)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from piaowu.core.errors import NotFound
from piaowu.orders import service as orders
from piaowu.seating import exchange, office, session_seating
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
    # An exchange moves no money: the seats offered are those sold at this line's price for its ticket type.
    allowed = sorted(
        {p.zone for p in prices if p.ticket_type_id == line.ticket_type_id and p.price_minor == line.price_minor}
    )
    zones = list(dict.fromkeys(st.seat.zone for st in states))
    ctx: dict[str, Any] = {
        "order": order,
        "line": line,
        "seats_json": json.dumps([st.row() for st in states], ensure_ascii=False, separators=(",", ":")),
        "zones": zones,
        "allowed": allowed,
        "current": [current] if current else [],
        "free": sum(1 for st in states if st.state == "free" and st.seat.zone in allowed),
        "errors": errors or {},
    }
    return await page(request, rt, actor, "manage/seat_exchange.html", ctx, active="orders", status_code=status_code)


@router.get("/orders/{order_id}/tickets/{ticket_id}/exchange")
async def exchange_form(request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str, ticket_id: str) -> Response:
    return await _exchange_page(request, rt, actor, order_id, ticket_id)


@router.post("/orders/{order_id}/tickets/{ticket_id}/exchange")
async def exchange_post(request: Request, rt: RuntimeDep, actor: StaffDep, order_id: str, ticket_id: str) -> Response:
    await read_form(request)  # the CSRF check
    seats = [str(v) for v in (await request.form()).getlist("seat")]
    _ = translator(request)
    if len(seats) != 1:
        errors = {"seat": _("Choose one seat on the map.")}
        return await _exchange_page(request, rt, actor, order_id, ticket_id, errors=errors, status_code=422)
    async with rt.uow(readonly=True) as uow:  # the ticket must be of this order (the path says so)
        order = await orders.get_order(uow, actor, order_id)
    if not any(x.ticket and x.ticket.id == ticket_id for x in order.lines):
        raise NotFound(kind="ticket")
    done, errors = await attempt(
        request, rt, lambda uow: exchange.exchange_seat(uow, actor, ticket_id, seats[0]), {"seat_id": "seat"}
    )
    if done is None:
        errors = {"seat": errors.pop("seat", None) or errors.pop("form", "")} if errors else {}
        return await _exchange_page(request, rt, actor, order_id, ticket_id, errors=errors, status_code=409)
    old, new = done.old_seat, done.new_seat
    flash(
        request,
        _(
            "Seat changed: {old} → {new}. The old ticket {old_code} is void; print the new one ({code}).",
            old=f"{old['section']} {old['row']}-{old['number']}",
            new=f"{new['section']} {new['row']}-{new['number']}",
            old_code=done.old_code,
            code=done.ticket.code,
        ),
        "success",
    )
    return redirect(f"/manage/orders/{order_id}")
