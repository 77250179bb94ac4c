"""Box-office sale: pick a session, quantities per ticket type — or, for a seated session, seats on its map, each
sold as a ticket type priced in its zone (product ``seat``) —, buyer, take cash — one request, one transaction
(``payment_flow.sell_at_counter``, the use case the API's ``POST /box-office/sales`` calls too)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from piaowu.catalog import event_service
from piaowu.catalog.schemas import EventOut, SessionOut
from piaowu.core.errors import InvalidAmount, SeatNotOnSaleHere, SeatTaken
from piaowu.core.money import format_money
from piaowu.orders.payment_flow import sell_at_counter
from piaowu.orders.schemas import BuyerIn, CashPaymentIn, CounterSaleIn, OrderItemIn, OrderOut, SelectedItemIn
from piaowu.seating import office, session_seating
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
from piaowu.web.manage.counter_days import counter_days
from piaowu.web.manage.filters import QueryCheck
from piaowu.web.manage.orders import change_message, parse_tendered
from piaowu.web.shop_support import day_text
from piaowu.web.templating import flash, page_locale

router = APIRouter()

RENAME = {"tendered_minor": "tendered", "items": "form", "phone": "buyer_phone", "name": "buyer_name"}


async def _on_sale(rt: RuntimeDep, actor: StaffDep) -> list[tuple[EventOut, SessionOut]]:
    async with rt.uow(readonly=True) as uow:
        events = await event_service.current_events(uow, actor, since=uow.now())
    found = [(ev, s) for ev in events for s in ev.sessions if s.sale_state == "on_sale"]
    return sorted(found, key=lambda pair: pair[1].starts_at)


async def _sell_page(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    session_id: str,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    picked: list[str] | None = None,
    day: str = "",
    status_code: int = 200,
) -> Response:
    choices = await _on_sale(rt, actor)
    chosen = next(((ev, s) for ev, s in choices if s.id == session_id), None) if session_id else None
    org = await organizer(rt, actor)
    check = QueryCheck(request)
    listing = None if chosen else _day_listing(request, check, choices, org.timezone, day, rt.clock.now())
    if check.errors and status_code == 200:
        status_code = 422
    if session_id and chosen is None:  # no such id, another organizer's, or not on sale (any more)
        # Said above the sessions that are on sale, to choose another; the form's other values meant that one.
        _ = translator(request)
        errors = {"session": _("This session is not on sale (any more): choose one of the sessions on sale.")}
        values = None
        status_code = 404 if status_code == 200 else status_code
    types = [t for t in chosen[1].ticket_types if t.is_active] if chosen else []
    values = values or {"method": "cash"}
    seated = await _seated(rt, actor, chosen[1].id, types) if chosen else None
    ctx = {
        "choices": choices,
        "listing": listing,
        # What the list cannot show as asked: a session not on sale (any more), a day that is not a date.
        "list_errors": {} if chosen else {**(errors or {}), **check.errors},
        "event": chosen[0] if chosen else None,
        "session": chosen[1] if chosen else None,
        "types": types,
        "values": values,
        "errors": errors or {},
        "currency": org.currency,
        # What the form asked for when it comes back with an error (the script keeps it current while typing).
        "total_minor": sum(t.price_minor * _quantity(values.get(f"qty_{t.id}", "")) for t in types),
        "seated": seated,
        "picked": picked or [],
        "chosen_types": json.dumps({seat: values.get(f"tt.{seat}", "") for seat in picked or []}),
    }
    return await page(request, rt, actor, "manage/sell.html", ctx, active="sell", status_code=status_code)


BAD_DAY = "Enter a date as YYYY-MM-DD."


def _day_listing(
    request: Request, check: QueryCheck, choices: list[tuple[EventOut, SessionOut]], tz: str, day: str, now: datetime
) -> dict[str, Any] | None:
    """One day's sessions on sale, by event in start order, and the days to switch to (``counter_days``); None when
    ``?day=`` is not a date (named on the page instead)."""
    wanted: date | None = None
    if day.strip():
        try:
            wanted = date.fromisoformat(day.strip())
        except ValueError:
            check.fail("day", BAD_DAY)
            return None
    zone = ZoneInfo(tz)
    local = [(ev, s, s.starts_at.astimezone(zone).date()) for ev, s in choices]
    today = now.astimezone(zone).date()
    days = counter_days([d for _, _, d in local], today, wanted)
    events: dict[str, tuple[EventOut, list[SessionOut]]] = {}
    for ev, s, d in local:
        if d == days.day:
            events.setdefault(ev.id, (ev, []))[1].append(s)
    locale = page_locale(request)
    _ = translator(request)

    def label(d: date) -> str:
        named = {today: _("Today"), today + timedelta(days=1): _("Tomorrow")}.get(d)
        if named:
            return f"{named} · {day_text(d, locale, year=False)}"
        return day_text(d, locale, year=d.year != today.year)

    return {
        "day": days.day.isoformat(),
        "day_label": label(days.day),
        "strip": [(d.isoformat(), label(d)) for d in days.strip],
        "events": list(events.values()),
        "total": len(choices),
    }


async def _seated(rt: RuntimeDep, actor: StaffDep, session_id: str, types: list[Any]) -> dict[str, Any] | None:
    """A seated session's map for the counter: every seat with its state, and per zone the ticket types priced
    there (id, name, price, price shown); None for a general-admission session."""
    async with rt.uow(readonly=True) as uow:
        if await session_seating.seating_of(uow, actor.organizer_id, session_id) is None:
            return None
        states = await office.seat_states(uow, actor, session_id)
        prices = await session_seating.zone_prices(uow, actor.organizer_id, session_id)
    names = {t.id: (t.name, t.currency) for t in types}
    by_zone: dict[str, list[list[Any]]] = {}
    for p in prices:
        if p.ticket_type_id in names:
            name, currency = names[p.ticket_type_id]
            by_zone.setdefault(p.zone, []).append(
                [p.ticket_type_id, name, p.price_minor, format_money(p.price_minor, currency)]
            )
    zones = list(dict.fromkeys(st.seat.zone for st in states))
    free = sum(1 for st in states if st.state == "free")
    return {
        "seats": json.dumps([st.row() for st in states], ensure_ascii=False, separators=(",", ":")),
        "zones": zones,
        "prices": by_zone,
        "free": free,
    }


def _seat_items(request: Request, form: dict[str, str], seat_ids: list[str]) -> tuple[list[Any], FormErrors]:
    """Picked seats grouped by the ticket type chosen for each: one ``seat`` item per ticket type."""
    _ = translator(request)
    by_type: dict[str, list[str]] = {}
    for seat_id in seat_ids:
        by_type.setdefault(form.get(f"tt.{seat_id}", ""), []).append(seat_id)
    if "" in by_type:
        return [], {"form": _("Choose a ticket type for every seat.")}
    items = [
        SelectedItemIn(product="seat", selection={"ticket_type_id": tt, "seats": seats})
        for tt, seats in by_type.items()
    ]
    return items, {}


TAKEN_LABELS = "These seats were just taken: {labels}. Choose other seats."
NOT_HERE_LABELS = "These seats are not on sale at the box office: {labels}. Choose other seats."


async def _sell_naming_seats(uow: Any, actor: StaffDep, sale: CounterSaleIn) -> OrderOut:
    """The counter sale; a lost seat, or one withheld from the box office since the page was drawn, is told by
    its printed labels (the clerk sees them on the map)."""
    try:
        return await sell_at_counter(uow, actor, sale)
    except (SeatTaken, SeatNotOnSaleHere) as exc:
        seats = exc.data.get("seats") or []
        labels = ", ".join(f"{s['section']} {s['row']}-{s['number']}" for s in seats if isinstance(s, dict))
        if not labels:
            raise
        template = TAKEN_LABELS if isinstance(exc, SeatTaken) else NOT_HERE_LABELS
        raise type(exc)(template, **{**exc.data, "labels": labels}) from None


def _quantity(raw: str) -> int:
    try:
        return max(0, int(raw))
    except ValueError:
        return 0


@router.get("/sell")
async def sell_form(request: Request, rt: RuntimeDep, actor: StaffDep, session: str = "", day: str = "") -> Response:
    return await _sell_page(request, rt, actor, session, day=day)


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
    seat_ids = [str(v) for v in (await request.form()).getlist("seat")]
    session_id = form.get("session", "")
    items: list[Any]
    if seat_ids:
        items, errors = _seat_items(request, form, seat_ids)
    else:
        items, errors = _items(request, form)
        if form.get("seated") and errors.get("form"):
            errors["form"] = translator(request)("Choose seats on the map.")
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
        sold, errors = await attempt(request, rt, lambda uow: _sell_naming_seats(uow, actor, sale), RENAME)
    if sold is None:
        return await _sell_page(
            request, rt, actor, session_id, values=form, errors=errors, picked=seat_ids, status_code=422
        )
    flash(request, change_message(request, sold, tendered), "success")
    return redirect(f"/manage/orders/{sold.id}")
