"""What the shop pages need besides routing: availability labels, dates in the organizer's zone, the buy form,
proof that this browser owns an order, one order per form submission, inline QR codes and venues."""

from __future__ import annotations

import calendar
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from markupsafe import Markup
from pydantic import ValidationError

from piaowu.accounts.service import customer_actor
from piaowu.catalog import views as catalog_views
from piaowu.catalog.rules import Availability, availability, order_limit
from piaowu.catalog.schemas import SessionOut, TicketTypeOut
from piaowu.core.ids import normalize_code
from piaowu.db import idempotency
from piaowu.db.uow import UnitOfWork
from piaowu.i18n import Translator
from piaowu.orders import service as orders
from piaowu.orders.schemas import BuyerIn, ItemIn, OrderIn, OrderItemIn, OrderOut, SelectedItemIn
from piaowu.runtime import Runtime
from piaowu.tickets import rendering

FormErrors = dict[str, str]

# ---- availability ---------------------------------------------------------------------------------------


def session_availability(s: SessionOut) -> Availability:
    """The shop's label for a session (``catalog.rules.availability``)."""
    return availability(
        s.status, s.sale_state, s.capacity, s.available, s.held, [t.available for t in s.ticket_types if t.is_active]
    )


def type_limit(t: TicketTypeOut, s: SessionOut) -> int:
    """The most of this ticket type one order can take now (``catalog.rules.order_limit``)."""
    return order_limit(t.max_per_order, t.available, s.available)


# ---- dates ----------------------------------------------------------------------------------------------

_WEEKDAYS_ZH = "一二三四五六日"
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def month_label(year: int, month: int, locale: str) -> str:
    """A calendar's heading: ``2026年12月`` / ``December 2026``."""
    return f"{year}年{month}月" if locale == "zh_CN" else f"{calendar.month_name[month]} {year}"


def day_text(d: date, locale: str, *, year: bool = True) -> str:
    """A day as people read it: ``2026年6月8日 周一`` / ``Mon 8 Jun 2026`` (``6月8日 周一`` / ``Mon 8 Jun``)."""
    if locale == "zh_CN":
        return f"{f'{d.year}年' if year else ''}{d.month}月{d.day}日 周{_WEEKDAYS_ZH[d.weekday()]}"
    return f"{_WEEKDAYS_EN[d.weekday()]} {d.day} {_MONTHS_EN[d.month - 1]}{f' {d.year}' if year else ''}"


def when(value: datetime | None, tz: str, locale: str, *, with_time: bool = True) -> str:
    """A date as people read it: ``2026年6月8日 周一 19:30`` / ``Mon 8 Jun 2026, 19:30`` in the organizer's zone."""
    if value is None:
        return ""
    d = value.astimezone(ZoneInfo(tz))
    day = day_text(d.date(), locale)
    if not with_time:
        return day
    return f"{day} {d:%H:%M}" if locale == "zh_CN" else f"{day}, {d:%H:%M}"


# ---- the buy form ---------------------------------------------------------------------------------------


@dataclass
class BuyForm:
    quantities: dict[str, int]  # ticket type id → quantity (0 = not buying)
    values: dict[str, str]  # what was typed, to show again
    errors: FormErrors
    buyer: BuyerIn | None = None
    seats: dict[str, list[str]] = field(default_factory=dict)  # seated session: ticket type id → seat ids

    def order_in(self) -> OrderIn:
        assert self.buyer is not None
        if self.seats:  # one "seat" item per ticket type, its seats in the order the buyer chose them
            chosen: list[ItemIn] = [
                SelectedItemIn(product="seat", selection={"ticket_type_id": t, "seats": ids})
                for t, ids in self.seats.items()
            ]
            return OrderIn(items=chosen, buyer=self.buyer)
        items: list[ItemIn] = [OrderItemIn(ticket_type_id=t, quantity=q) for t, q in self.quantities.items() if q > 0]
        return OrderIn(items=items, buyer=self.buyer)


def read_buy_form(form: dict[str, str], s: SessionOut, _: Translator) -> BuyForm:
    """Checks quantities against the limits shown on the page and the buyer's details, field by field."""
    values = {k: v for k, v in form.items() if k.startswith(("qty_", "buyer_"))}
    errors: FormErrors = {}
    quantities: dict[str, int] = {}
    for t in s.ticket_types:
        raw = form.get(f"qty_{t.id}", "").strip()
        if not raw:
            quantities[t.id] = 0
            continue
        try:
            qty = int(raw)
        except ValueError:
            errors[f"qty_{t.id}"] = _("Enter a whole number.")
            continue
        if qty < 0 or (qty and not t.min_per_order <= qty <= t.max_per_order):
            errors[f"qty_{t.id}"] = _(
                "Choose between {min} and {max} tickets of {ticket_type}.",
                min=t.min_per_order,
                max=t.max_per_order,
                ticket_type=t.name,
            )
            continue
        quantities[t.id] = qty
    if not errors and not any(quantities.values()):
        errors["tickets"] = _("Choose at least one ticket.")
    buyer = None
    if not form.get("buyer_name", "").strip():
        errors["buyer_name"] = _("Enter your name.")
    if not form.get("buyer_phone", "").strip():
        errors["buyer_phone"] = _("Enter your mobile number.")
    email = form.get("buyer_email", "").strip()
    try:
        buyer = BuyerIn(name=form.get("buyer_name", ""), phone=form.get("buyer_phone", "").strip(), email=email or None)
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err.get("loc") else "form"
            errors.setdefault(f"buyer_{field}", _buyer_message(field, err, _))
    return BuyForm(quantities, values, errors, buyer)


MAX_SEATS_FIELD = 4_000  # characters of the "seats" field: 100 seats with their ticket types, and then some


def seat_limit(s: SessionOut) -> int:
    """How many seats the picker lets one order choose: the largest per-order limit of the session's ticket
    types (the order itself is checked again by the seat resolver)."""
    return max([1, *(type_limit(t, s) for t in s.ticket_types if t.is_active)])


def seat_name(_: Translator, section: str, row: str, number: str) -> str:
    """A seat as people say it: "A区3排12座" / "Section A, row 3, seat 12" (as static/seatmap.js names it; a
    section called by a bare code gets "区"/"Section", a section with a name keeps it)."""
    if re.fullmatch(r"[A-Za-z0-9]{1,4}", section):
        section = _("Section {section}", section=section)
    return _("{section}, row {row}, seat {number}", section=section, row=row, number=number)


def read_seat_form(form: dict[str, str], s: SessionOut, _: Translator) -> BuyForm:
    """A seated session's form: ``seats`` = "seat_id:ticket_type_id,…" as the seat picker writes it, and the
    buyer's details. Only its shape is checked here (the seats themselves by the seat resolver, which names
    any seat it refuses)."""
    raw = form.get("seats", "").strip()[:MAX_SEATS_FIELD]
    base = read_buy_form({k: v for k, v in form.items() if k.startswith("buyer_")}, s, _)
    base.errors.pop("tickets", None)
    base.values["seats"] = raw
    type_ids = {t.id for t in s.ticket_types}
    seats: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        seat_id, _sep, type_id = part.partition(":")
        if not seat_id or type_id not in type_ids:
            base.errors["tickets"] = _("Your seat choice could not be read. Please choose your seats again.")
            base.values["seats"] = ""
            return base
        seats.setdefault(type_id, []).append(seat_id)
    if not seats:
        base.errors["tickets"] = _("Choose at least one seat.")
    base.seats = seats
    return base


def _buyer_message(field: str, err: Any, _: Translator) -> str:
    if field == "name":
        if err.get("type") == "string_too_long":
            return _("Use at most {max_length} characters.", max_length=100)
        if err.get("type") == "value_error":  # control or text-direction characters (core.inputs)
            return _(str(err.get("msg", "")).removeprefix("Value error, "))
        return _("Enter your name.")
    if field == "phone":
        if err.get("type") == "value_error":
            return _(str(err.get("msg", "")).removeprefix("Value error, "))
        return _("Enter a valid mobile number.")
    if field == "email":
        return _("Enter a valid e-mail address, like name@example.com.")
    return _("This value is not valid.")


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


def valid_form_token(token: str) -> bool:
    return 20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()


async def create_once(rt: Runtime, organizer_id: str, token: str, data: OrderIn) -> dict[str, str]:
    """Creates the order of one form submission at most once: the form's one-time token is the idempotency key
    (``db.idempotency.run_once``, as the API's ``Idempotency-Key``). A second submission (double click, reload,
    retry after a lost answer) gets the first order back. → {"code", "contact"}."""
    actor = customer_actor(organizer_id)

    async def create(uow: UnitOfWork) -> dict[str, Any]:
        out = await orders.create_order(uow, actor, data)
        return {"code": out.code, "contact": out.buyer_phone}

    scope = f"{organizer_id}:web-shop:orders"
    answer = await idempotency.run_once(
        rt.uow, scope, token, idempotency.request_fingerprint(token.encode()), 303, create
    )
    return {"code": str(answer.response["code"]), "contact": str(answer.response["contact"])}


# ---- which orders this browser may open -----------------------------------------------------------------

OWNED_KEY = "shop_orders"
OWNED_MAX = 20


def remember_order(request: Request, organizer_id: str, code: str, contact: str) -> None:
    """After buying or a successful lookup, the signed session cookie remembers the order (and the contact the
    services ask for), so the buyer sees it again without typing. Oldest entries fall off."""
    code = normalize_code(code)
    owned: list[list[str]] = [e for e in request.session.get(OWNED_KEY, []) if e[:2] != [organizer_id, code]]
    owned.append([organizer_id, code, contact])
    request.session[OWNED_KEY] = owned[-OWNED_MAX:]


def owned_contact(request: Request, organizer_id: str, code: str) -> str | None:
    code = normalize_code(code)
    for entry in request.session.get(OWNED_KEY, []):
        if entry[0] == organizer_id and entry[1] == code:
            return str(entry[2])
    return None


# ---- tickets on screen and on paper ---------------------------------------------------------------------


def qr_inline(payload: str, label: str) -> Markup:
    """An inline SVG QR code that scales with its box, named for screen readers."""
    svg = rendering.qr_svg(payload, scalable=True)
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{Markup.escape(label)}" ', 1))


async def session_venues(rt: Runtime, organizer_id: str, order: OrderOut) -> dict[str, catalog_views.SessionLabel]:
    """Each session of the order with its venue (tickets say where to go, and when in the venue's zone)."""
    async with rt.uow(readonly=True) as uow:
        return await catalog_views.session_labels(uow, organizer_id, [line.session_id for line in order.lines])


@dataclass(frozen=True)
class LineGroup:
    ticket_type_name: str
    event_name: str
    session_name: str
    starts_at: datetime | None
    price_minor: int
    quantity: int
    seats: tuple[tuple[str, str, str], ...] = ()  # (section, row, number) of assigned seats, in line order


def grouped_lines(order: OrderOut) -> Sequence[LineGroup]:
    """Order lines folded by ticket type for the summary (one line per ticket in the order itself)."""
    groups: dict[tuple[str, int], LineGroup] = {}
    for line in order.lines:
        key = (line.ticket_type_id, line.price_minor)
        g = groups.get(key)
        groups[key] = LineGroup(
            line.ticket_type_name,
            line.event_name,
            line.session_name,
            line.starts_at,
            line.price_minor,
            (g.quantity if g else 0) + 1,
            (g.seats if g else ()) + (((line.seat.section, line.seat.row, line.seat.number),) if line.seat else ()),
        )
    return list(groups.values())
