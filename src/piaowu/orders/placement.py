"""General admission (product kind ``admission``): a ticket type and a quantity → priced lines and the pools
they hold. Pure: no I/O (``orders.admission`` reads the offers and calls ``resolve``).

Also the order-wide limits every resolution obeys, whatever its products (``check_order``). Problems are
collected per item so a client can show each one next to its row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from piaowu.core.errors import EmptySelection, InvalidQuantity, NotOnSale, SeatRequired, ValidationFailed
from piaowu.core.selections import Item, PoolHolding, Resolution, ResolvedLine

KIND = "admission"


class OfferLike(Protocol):
    ticket_type_id: str
    name: str
    price_minor: int
    currency: str
    min_per_order: int
    max_per_order: int
    is_active: bool
    pool_ids: tuple[str, ...]
    session_id: str
    sale_state: str
    event_name: str
    session_name: str
    starts_at: datetime


@dataclass(frozen=True, slots=True)
class AdmissionSelection:
    """What a buyer of general admission chooses: a ticket type (of one session) and how many."""

    ticket_type_id: str
    quantity: int


MAX_TICKETS_PER_ORDER = 100
# Amounts are stored in 32-bit integer columns on PostgreSQL (SQLite's are 64-bit): one order costs at most this many
# minor units (21,474,836.47 yuan), so an order that SQLite would store is never refused by PostgreSQL.
MAX_ORDER_TOTAL_MINOR = 2**31 - 1
TICKET_TYPE_ID_LENGTH = 40


def parse(raw: Mapping[str, Any], at: str) -> AdmissionSelection:
    """A request's ``selection`` object → ``AdmissionSelection``, as strictly as the counted item shape is
    checked (exactly ``ticket_type_id``, a non-empty string, and ``quantity``, a whole number 1–100)."""
    errors = [
        {"field": f"{at}.{key}", "code": "extra_forbidden", "message": "This field is not allowed."}
        for key in raw
        if key not in ("ticket_type_id", "quantity")
    ]
    tt_id, qty = raw.get("ticket_type_id"), raw.get("quantity")
    for key, value in (("ticket_type_id", tt_id), ("quantity", qty)):
        if value is None:
            errors.append({"field": f"{at}.{key}", "code": "missing", "message": "This field is required."})
    if tt_id is not None and not (isinstance(tt_id, str) and 1 <= len(tt_id) <= TICKET_TYPE_ID_LENGTH):
        errors.append({"field": f"{at}.ticket_type_id", "code": "invalid", "message": "Send a ticket type id."})
    # bool is an int in Python, and JSON true is not a quantity.
    if qty is not None and not (
        isinstance(qty, int) and not isinstance(qty, bool) and 1 <= qty <= MAX_TICKETS_PER_ORDER
    ):
        errors.append(
            {"field": f"{at}.quantity", "code": "invalid", "message": "Send a whole number of tickets, 1 to 100."}
        )
    if errors:
        raise ValidationFailed(errors)
    assert isinstance(tt_id, str) and isinstance(qty, int)
    return AdmissionSelection(tt_id, qty)


def check_size(tickets: int) -> None:
    if tickets > MAX_TICKETS_PER_ORDER:
        raise InvalidQuantity(min=1, max=MAX_TICKETS_PER_ORDER, ticket_type="this order")


def check_currencies(currencies: set[str]) -> None:
    if len(currencies) > 1:
        raise ValidationFailed([{"field": "items", "code": "mixed_currency", "message": "Mixed currencies."}])


def check_total(total_minor: int) -> None:
    if total_minor > MAX_ORDER_TOTAL_MINOR:
        raise ValidationFailed(
            [{"field": "items", "code": "total_too_large", "message": "This order costs more than one order may."}]
        )


def check_order(resolution: Resolution) -> None:
    """The limits of one order, whatever its products: 1 to 100 tickets, one currency, a total that fits, and a
    unit with identity on one line only (a refund gives a line's claim back whole: the engine returns a hold's
    claim per unit, so two lines of one order on the same seat — legs A→B and C→D — would free each other)."""
    if not resolution.lines:
        raise EmptySelection()
    units = [unit_id for unit_id, _ in resolution.claims]
    if len(units) != len(set(units)):
        raise ValidationFailed(
            [
                {
                    "field": "items",
                    "code": "unit_on_two_lines",
                    "message": "A seat is chosen for two tickets of one order.",
                }
            ]
        )
    check_size(len(resolution.lines))
    check_currencies(resolution.currencies)
    check_total(resolution.total_minor)


def check_holders(items: Sequence[Item]) -> None:
    """Holder names are optional; when given, there is one per ticket of the item."""
    wrong = [
        {
            "field": f"items.{item.index}.holders",
            "code": "holders_count",
            "message": "Name one holder per ticket, or none.",
        }
        for item in items
        if item.holders and len(item.holders) != item.selection.quantity
    ]
    if wrong:
        raise ValidationFailed(wrong)


def resolve(items: Sequence[Item], offers: Mapping[str, OfferLike]) -> Resolution:
    """``items`` carry ``AdmissionSelection``s. Every line of a ticket type holds one unit of each pool its offer
    consumes (the session's, plus its quota's). Raises ValidationFailed / NotOnSale / InvalidQuantity and then
    resolves nothing."""
    quantities: dict[str, int] = {}
    holders: dict[str, list[str]] = {}
    for item in items:  # the same ticket type twice in one request counts together
        sel: AdmissionSelection = item.selection
        quantities[sel.ticket_type_id] = quantities.get(sel.ticket_type_id, 0) + sel.quantity
        names = list(item.holders) or [""] * sel.quantity
        holders.setdefault(sel.ticket_type_id, []).extend(names)
    unknown = [
        {"field": f"{item.at}.ticket_type_id", "code": "unknown_ticket_type", "message": "No such ticket type."}
        for item in items
        if item.selection.ticket_type_id not in offers or not offers[item.selection.ticket_type_id].is_active
    ]
    if unknown:
        raise ValidationFailed(unknown)
    for item in items:
        offer = offers[item.selection.ticket_type_id]
        # A session with a seat map sells seats only: a counted ticket would take its pool without a seat, and
        # the seats the map shows free could then no longer be sold. (Plain offers of pure tests have no flag.)
        if getattr(offer, "seated", False):
            raise SeatRequired(
                ticket_type_id=offer.ticket_type_id, session_id=offer.session_id, field=f"{item.at}.ticket_type_id"
            )
    check_holders(items)
    check_size(sum(quantities.values()))
    check_currencies({offers[t].currency for t in quantities})
    lines: list[ResolvedLine] = []
    for tt_id, qty in quantities.items():
        offer = offers[tt_id]
        if offer.sale_state != "on_sale":
            raise NotOnSale(ticket_type_id=tt_id, sale_state=str(offer.sale_state))
        if not offer.min_per_order <= qty <= offer.max_per_order:
            raise InvalidQuantity(min=offer.min_per_order, max=offer.max_per_order, ticket_type=offer.name)
        holdings = tuple(PoolHolding(pool_id, 1) for pool_id in offer.pool_ids)
        lines.extend(
            ResolvedLine(
                ticket_type_id=tt_id,
                ticket_type_name=offer.name,
                session_id=offer.session_id,
                price_minor=offer.price_minor,
                currency=offer.currency,
                holdings=holdings,
                holder_name=name,
                event_name=offer.event_name,
                session_name=offer.session_name,
                starts_at=offer.starts_at,
            )
            for name in holders[tt_id]
        )
    resolution = Resolution(tuple(lines))
    check_total(resolution.total_minor)
    return resolution
