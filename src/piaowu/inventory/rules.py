"""The inventory engine's pure rules: availability, reservation plans, hold states."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from piaowu.core.errors import ValidationFailed


class HoldStatus(StrEnum):
    ACTIVE = "active"  # units are held; counts in ``held``
    CONVERTED = "converted"  # paid: the units moved from ``held`` to ``sold``
    RELEASED = "released"  # given back before expiry (cancelled)
    EXPIRED = "expired"  # given back by the sweeper after ``expires_at``


@dataclass(frozen=True, slots=True)
class PoolCounts:
    capacity: int
    held: int
    sold: int
    allowance: int = 0

    @property
    def available(self) -> int:
        """What buyers are shown: ``capacity − held − sold`` (never negative, overbooking not advertised)."""
        return max(0, self.capacity - self.held - self.sold)

    @property
    def sellable(self) -> int:
        """What may still be reserved, including an overbooking allowance."""
        return max(0, self.capacity + self.allowance - self.held - self.sold)

    def can_take(self, n: int) -> bool:
        return self.held + self.sold + n <= self.capacity + self.allowance


def offer_availability(pools: Iterable[PoolCounts]) -> int:
    """An offer consumes one unit of each of its pools, so it is as available as its scarcest pool."""
    values = [p.available for p in pools]
    return min(values) if values else 0


@dataclass(frozen=True, slots=True)
class Take:
    pool_id: str
    quantity: int


def plan(takes: Iterable[Take]) -> list[Take]:
    """Merge takes per pool and sort by pool id: the fixed lock order that keeps reservations deadlock-free."""
    merged: dict[str, int] = {}
    for t in takes:
        if t.quantity <= 0:
            raise ValidationFailed(
                [{"field": "quantity", "code": "not_positive", "message": "Quantities must be positive."}]
            )
        merged[t.pool_id] = merged.get(t.pool_id, 0) + t.quantity
    return [Take(pid, merged[pid]) for pid in sorted(merged)]


def check_capacity_change(new_capacity: int, counts: PoolCounts) -> list[dict[str, str]]:
    if new_capacity < 0:
        return [{"field": "capacity", "code": "negative", "message": "Capacity cannot be negative."}]
    if new_capacity + counts.allowance < counts.held + counts.sold:
        return [
            {
                "field": "capacity",
                "code": "below_taken",
                "message": "Capacity cannot be lower than the tickets already sold or held.",
            }
        ]
    return []
