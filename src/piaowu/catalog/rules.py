"""Catalog rules: session states and whether a session sells now. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from piaowu.core.errors import InvalidState, ValidationFailed


class EventKind(StrEnum):
    PERFORMANCE = "performance"  # concerts, theatre, sport: dated sessions
    ATTRACTION = "attraction"  # scenic areas, museums, parks: one session per day (or per slot, later)


class SessionStatus(StrEnum):
    DRAFT = "draft"  # being set up; invisible to buyers
    ON_SALE = "on_sale"  # sells inside its sales window
    PAUSED = "paused"  # visible, temporarily not selling (e.g. a box-office problem)
    CLOSED = "closed"  # sales ended; tickets stay valid
    CANCELLED = "cancelled"  # the session will not take place


TRANSITIONS: dict[SessionStatus, frozenset[SessionStatus]] = {
    SessionStatus.DRAFT: frozenset({SessionStatus.ON_SALE, SessionStatus.CANCELLED}),
    SessionStatus.ON_SALE: frozenset({SessionStatus.PAUSED, SessionStatus.CLOSED, SessionStatus.CANCELLED}),
    SessionStatus.PAUSED: frozenset({SessionStatus.ON_SALE, SessionStatus.CLOSED, SessionStatus.CANCELLED}),
    SessionStatus.CLOSED: frozenset({SessionStatus.ON_SALE, SessionStatus.CANCELLED}),
    SessionStatus.CANCELLED: frozenset(),
}


def shown_in_shop(status: str, event_published: bool) -> bool:
    """Whether the shop shows a session (and answers for it): not a draft, and its event published."""
    return status != SessionStatus.DRAFT and event_published


def has_ended(ends_at: datetime, now: datetime) -> bool:
    """A session that has ended is history: it is no longer cancelled as a whole (that would refund everyone who
    attended); its orders are refunded one by one where that is right."""
    return ends_at <= now


def check_transition(current: str, target: str) -> SessionStatus:
    try:
        cur, tgt = SessionStatus(current), SessionStatus(target)
    except ValueError:
        raise ValidationFailed([{"field": "status", "code": "invalid", "message": "Unknown status."}]) from None
    if cur == tgt:
        return tgt
    if tgt not in TRANSITIONS[cur]:
        raise InvalidState(state=str(cur))
    return tgt


class SaleState(StrEnum):
    ON_SALE = "on_sale"
    NOT_YET = "not_yet"  # before the sales window
    ENDED = "ended"  # after the window or the session ended
    UNAVAILABLE = "unavailable"  # draft, paused, closed, cancelled


def sale_state(
    status: str,
    now: datetime,
    starts_at: datetime,
    ends_at: datetime,
    sales_start: datetime | None,
    sales_end: datetime | None,
) -> SaleState:
    """Whether a session sells at ``now``. Without an explicit end, sales stop when the session ends."""
    if status != SessionStatus.ON_SALE:
        return SaleState.UNAVAILABLE
    if sales_start is not None and now < sales_start:
        return SaleState.NOT_YET
    end = sales_end or ends_at
    if now >= end:
        return SaleState.ENDED
    return SaleState.ON_SALE


def validate_session_times(
    starts_at: datetime, ends_at: datetime, sales_start: datetime | None, sales_end: datetime | None
) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    if ends_at <= starts_at:
        errors.append({"field": "ends_at", "code": "before_start", "message": "The end must be after the start."})
    if sales_start and sales_end and sales_end <= sales_start:
        errors.append({"field": "sales_end", "code": "before_start", "message": "Sales must end after they start."})
    if sales_end and sales_end > ends_at:
        errors.append(
            {"field": "sales_end", "code": "after_session", "message": "Sales cannot end after the session ends."}
        )
    return errors


def validate_ticket_type(
    price_minor: int, quota: int | None, min_per_order: int, max_per_order: int
) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    if price_minor < 0:
        errors.append({"field": "price_minor", "code": "negative", "message": "The price cannot be negative."})
    if quota is not None and quota < 0:
        errors.append({"field": "quota", "code": "negative", "message": "The quota cannot be negative."})
    if min_per_order < 1:
        errors.append(
            {"field": "min_per_order", "code": "too_small", "message": "The minimum per order is at least 1."}
        )
    if max_per_order < min_per_order:
        errors.append(
            {
                "field": "max_per_order",
                "code": "below_min",
                "message": "The maximum per order must be at least the minimum.",
            }
        )
    return errors


# ---- what is left to buy, as buyers see it ---------------------------------------------------------------

LOW_SHARE = 0.10  # "only N left" from 10 % of the capacity down


@dataclass(frozen=True)
class Availability:
    state: str  # on_sale, low, sold_out, held_out, not_yet, ended, paused
    left: int

    @property
    def buyable(self) -> bool:
        return self.state in ("on_sale", "low")


def availability(
    status: str, sale: str, capacity: int, available: int, held: int, types_available: Sequence[int]
) -> Availability:
    """One state per session: paused, not yet, ended, sold out (or only held by others), low, on sale.

    ``sale`` is the session's ``SaleState``; ``types_available`` what each of its active ticket types can still
    sell. What is left is the smaller of the session's pool and what its ticket types can still sell (quotas)."""
    if status == SessionStatus.PAUSED:
        return Availability("paused", 0)
    if sale == SaleState.NOT_YET:
        return Availability("not_yet", 0)
    if sale != SaleState.ON_SALE:
        return Availability("ended", 0)
    left = min(available, sum(types_available)) if types_available else 0
    if left <= 0:
        # Units held in other buyers' unpaid orders come back if those orders expire: say so, not "sold out".
        return Availability("held_out" if held > 0 else "sold_out", 0)
    if left <= max(1, int(capacity * LOW_SHARE)):
        return Availability("low", left)
    return Availability("on_sale", left)


def order_limit(max_per_order: int, type_available: int, session_available: int) -> int:
    """The most of one ticket type one order can take now."""
    return max(0, min(max_per_order, type_available, session_available))


def pools_of(session_pool_id: str, quota_pool_id: str | None) -> tuple[str, ...]:
    """What one unit of a ticket type consumes: its session's pool, plus its quota pool when it has one."""
    return (session_pool_id, quota_pool_id) if quota_pool_id else (session_pool_id,)


def pool_label(*names: str) -> str:
    """A pool's label from the names it counts for (event + session). Each name may use its whole documented
    length, so the label can be longer than its column: ``inventory.service.create_pool`` cuts it to fit."""
    return " ".join(n.strip() for n in names if n.strip())
