"""Turn a requested selection into priced order lines and the units to hold. Pure: no I/O.

Problems are collected per item so a client can show each one next to its row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from piaowu.core.errors import InvalidQuantity, NotOnSale, ValidationFailed


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


@dataclass(frozen=True)
class DraftLine:
    ticket_type_id: str
    ticket_type_name: str
    session_id: str
    price_minor: int


@dataclass(frozen=True)
class Draft:
    lines: list[DraftLine]
    takes: list[tuple[str, int]]  # (pool id, units) before merging
    total_minor: int
    currency: str


MAX_TICKETS_PER_ORDER = 100
# Amounts are stored in 32-bit integer columns on PostgreSQL (SQLite's are 64-bit): one order costs at most this many
# minor units (21,474,836.47 yuan), so an order that SQLite would store is never refused by PostgreSQL.
MAX_ORDER_TOTAL_MINOR = 2**31 - 1


def build(items: Sequence[tuple[str, int]], offers: Mapping[str, OfferLike]) -> Draft:
    """``items`` are (ticket type id, quantity). Raises ValidationFailed / NotOnSale / InvalidQuantity."""
    quantities: dict[str, int] = {}
    for tt_id, qty in items:  # the same ticket type twice in one request counts together
        quantities[tt_id] = quantities.get(tt_id, 0) + qty
    unknown = [
        {"field": f"items.{i}.ticket_type_id", "code": "unknown_ticket_type", "message": "No such ticket type."}
        for i, (tt_id, _) in enumerate(items)
        if tt_id not in offers or not offers[tt_id].is_active
    ]
    if unknown:
        raise ValidationFailed(unknown)
    if sum(quantities.values()) > MAX_TICKETS_PER_ORDER:
        raise InvalidQuantity(min=1, max=MAX_TICKETS_PER_ORDER, ticket_type="this order")
    currencies = {offers[t].currency for t in quantities}
    if len(currencies) > 1:
        raise ValidationFailed([{"field": "items", "code": "mixed_currency", "message": "Mixed currencies."}])
    lines: list[DraftLine] = []
    takes: list[tuple[str, int]] = []
    for tt_id, qty in quantities.items():
        offer = offers[tt_id]
        if offer.sale_state != "on_sale":
            raise NotOnSale(ticket_type_id=tt_id, sale_state=str(offer.sale_state))
        if not offer.min_per_order <= qty <= offer.max_per_order:
            raise InvalidQuantity(min=offer.min_per_order, max=offer.max_per_order, ticket_type=offer.name)
        lines.extend(DraftLine(tt_id, offer.name, offer.session_id, offer.price_minor) for _ in range(qty))
        takes.extend((pool_id, qty) for pool_id in offer.pool_ids)
    total = sum(line.price_minor for line in lines)
    if total > MAX_ORDER_TOTAL_MINOR:
        raise ValidationFailed(
            [{"field": "items", "code": "total_too_large", "message": "This order costs more than one order may."}]
        )
    return Draft(lines, takes, total, currencies.pop())
