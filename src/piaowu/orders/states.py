"""Order states and the transitions between them. Pure.

::

    pending ──pay──▶ paid ──refund part──▶ partially_refunded ──refund rest──▶ refunded
       │                 └──────────────refund all───────────────────────────▶ refunded
       ├──cancel──▶ cancelled
       └──timeout─▶ expired
    expired / cancelled ──late payment, units re-reserved──▶ paid
"""

from __future__ import annotations

from enum import StrEnum

from piaowu.core.errors import InvalidState


class OrderStatus(StrEnum):
    PENDING = "pending"  # units held until expires_at, awaiting payment
    PAID = "paid"  # money received, tickets issued
    PARTIALLY_REFUNDED = "partially_refunded"  # some tickets refunded, the rest still valid
    REFUNDED = "refunded"  # every ticket refunded
    CANCELLED = "cancelled"  # given up before payment; units released
    EXPIRED = "expired"  # not paid in time; units released


class LineStatus(StrEnum):
    ACTIVE = "active"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    S.PAID: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.REFUNDED: frozenset(),
    # A payment that arrives after the order closed revives it when its units can be taken again.
    S.CANCELLED: frozenset({S.PAID}),
    S.EXPIRED: frozenset({S.PAID}),
}

OPEN = frozenset({S.PENDING})
CLOSED_UNPAID = frozenset({S.CANCELLED, S.EXPIRED})
REFUNDABLE = frozenset({S.PAID, S.PARTIALLY_REFUNDED})
UNPAID = OPEN | CLOSED_UNPAID  # a payment may still arrive (late, or after the order closed)
WAS_PAID = REFUNDABLE | {S.REFUNDED}  # money was received (some or all of it may have gone back since)


def check(current: str, target: OrderStatus) -> OrderStatus:
    """``target`` when the table allows ``current`` → ``target``; InvalidState otherwise."""
    cur = OrderStatus(current)
    if target not in TRANSITIONS[cur]:
        raise InvalidState(state=str(cur))
    return target


def sources_for(target: OrderStatus) -> frozenset[OrderStatus]:
    """Every state from which the table allows a move to ``target`` (the conditional update's ``WHERE``)."""
    return frozenset(src for src, targets in TRANSITIONS.items() if target in targets)


def allowed_sources(target: OrderStatus, only_from: frozenset[OrderStatus] | None = None) -> frozenset[OrderStatus]:
    """The source states of a conditional update to ``target``: the table's, or the caller's narrower choice,
    every one of which the table must allow (InvalidState names the first it forbids)."""
    table = sources_for(target)
    if not table:
        raise InvalidState(state=str(target))
    if only_from is None:
        return table
    forbidden = only_from - table
    if forbidden:
        raise InvalidState(state=str(min(forbidden)))
    return frozenset(only_from)


def after_refund(active_lines_left: int) -> OrderStatus:
    return S.PARTIALLY_REFUNDED if active_lines_left > 0 else S.REFUNDED
