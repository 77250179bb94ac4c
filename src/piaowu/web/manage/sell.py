"""Box-office sale: pick a session, quantities per ticket type, buyer, take cash — one request, one transaction
(``payment_flow.sell_at_counter``, the use case the API's ``POST /box-office/sales`` calls too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from piaowu.catalog import event_service
from piaowu.catalog.schemas import EventOut, SessionOut
from piaowu.core.errors import InvalidAmount
from piaowu.orders.payment_flow import sell_at_counter
from piaowu.orders.schemas import BuyerIn, CashPaymentIn, CounterSaleIn, OrderItemIn, OrderOut
from piaowu.seating import session_seating
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import (
    FormErrors,
    attempt,
    error_text,
    organizer,
    page,
    pydantic_errors,
    read_form,
    redirect,
    translator,
)
from piaowu.web.manage.orders import change_message, parse_tendered
from piaowu.web.templating import flash

router = APIRouter()

RENAME = {"tendered_minor": "tendered", "items": "form", "phone": "buyer_phone", "name": "buyer_name"}


async def _on_sale(rt: RuntimeDep, actor: StaffDep) -> list[tuple[EventOut, SessionOut]]:
    async with rt.uow(readonly=True) as uow:
        page_ = await event_service.list_events(uow, actor, limit=200)
    found = [(ev, s) for ev in page_.items for s in ev.sessions if s.sale_state == "on_sale"]
    return sorted(found, key=lambda pair: pair[1].starts_at)


async def _sell_page(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    session_id: str,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    choices = await _on_sale(rt, actor)
    chosen = next(((ev, s) for ev, s in choices if s.id == session_id), None) if session_id else None
    if session_id and chosen is None:  # no such id, another organizer's, or not on sale (any more)
        # Said above the sessions that are on sale, to choose another; the form's other values meant that one.
        _ = translator(request)
        errors = {"session": _("This session is not on sale (any more): choose one of the sessions on sale.")}
        values = None
        status_code = 404 if status_code == 200 else status_code
    seated = False
    if chosen:
        async with rt.uow(readonly=True) as uow:
            seated = await session_seating.seating_of(uow, actor.organizer_id, chosen[1].id) is not None
    # A seated session's ticket types are sold seat by seat (``seat_required`` for counted tickets): no
    # quantity inputs for them here.
    types = [t for t in chosen[1].ticket_types if t.is_active] if chosen and not seated else []
    values = values or {"method": "cash"}
    ctx = {
        "choices": choices,
        "event": chosen[0] if chosen else None,
        "session": chosen[1] if chosen else None,
        "types": types,
        "seated": seated,
        "values": values,
        "errors": errors or {},
        "currency": (await organizer(rt, actor)).currency,
        # What the form asked for when it comes back with an error (the script keeps it current while typing).
        "total_minor": sum(t.price_minor * _quantity(values.get(f"qty_{t.id}", "")) for t in types),
    }
    return await page(request, rt, actor, "manage/sell.html", ctx, active="sell", status_code=status_code)


def _quantity(raw: str) -> int:
    try:
        return max(0, int(raw))
    except ValueError:
        return 0


@router.get("/sell")
async def sell_form(request: Request, rt: RuntimeDep, actor: StaffDep, session: str = "") -> Response:
    return await _sell_page(request, rt, actor, session)


def _items(request: Request, form: dict[str, str]) -> tuple[list[OrderItemIn], FormErrors]:
    _ = translator(request)
    items: list[OrderItemIn] = []
    errors: FormErrors = {}
    for key, raw in form.items():
        if not key.startswith("qty_") or not raw.strip():
            continue
        try:
            n = int(raw)
        except ValueError:
            errors[key] = _("Enter a whole number.")
            continue
        if n < 0 or n > 100:
            errors[key] = _("Enter a number between 0 and 100.")
        elif n:
            try:
                items.append(OrderItemIn(ticket_type_id=key.removeprefix("qty_"), quantity=n))
            except ValidationError:  # not a ticket type id the page offered
                errors["form"] = _("This value is not valid.")
    if not items and not errors:
        errors["form"] = _("Choose at least one ticket.")
    return items, errors


@router.post("/sell")
async def sell(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    form = await read_form(request)
    session_id = form.get("session", "")
    items, errors = _items(request, form)
    method = form.get("method", "cash")
    tendered = None
    try:
        tendered = parse_tendered(form.get("tendered", ""), (await organizer(rt, actor)).currency)
    except InvalidAmount as exc:
        errors["tendered"] = error_text(request, exc)
    command = None
    try:
        buyer = BuyerIn(name=form.get("buyer_name", ""), phone=form.get("buyer_phone", ""))
        payment = CashPaymentIn(method=method, tendered_minor=tendered if method == "cash" else None)
        command = CounterSaleIn(
            items=items or [OrderItemIn(ticket_type_id="-", quantity=1)], buyer=buyer, payment=payment
        )
    except ValidationError as exc:
        errors = {**pydantic_errors(request, exc, RENAME), **errors}
    sold: OrderOut | None = None
    if not errors and command is not None:
        sale = command
        sold, errors = await attempt(request, rt, lambda uow: sell_at_counter(uow, actor, sale), RENAME)
    if sold is None:
        return await _sell_page(request, rt, actor, session_id, values=form, errors=errors, status_code=422)
    flash(request, change_message(request, sold, tendered), "success")
    return redirect(f"/manage/orders/{sold.id}")
