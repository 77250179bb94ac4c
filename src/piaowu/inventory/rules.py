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
    # Taken without a unit with identity (counted admission): refused by a pool that sells seats alone
    # (``SEATS_ONLY``), however the pool became one.
    seatless: bool = False


# ``inventory_pools.kind`` of a pool whose every unit is a seat sold by its claim (a seated session's pool): a
# take marked ``seatless`` never matches it. Such a pool IS its seats (DESIGN.md, "One inventory engine"): a
# seat order claims units and takes nothing of the pool's row, so its held and sold are its units' live claims
# (``repository.seat_counts``), and ``held + sold <= capacity`` holds because the pool has ``capacity`` units of
# one leg each and a leg has at most one live claim. Its row's counters move only for holds made before that.
SEATS_ONLY = "seats"


def seated_capacity_change(capacity: int, new_capacity: int) -> list[dict[str, str]]:
    """A seats-only pool's capacity is its seat count, which only a layout changes: any other value is refused
    (the same value is not a change)."""
    if new_capacity == capacity:
        return []
    message = "A seated session's capacity is its seat count: assign another layout to change it."
    return [{"field": "capacity", "code": "seated_capacity", "message": message}]


@dataclass(frozen=True)
class LockedHold:
    """A hold as a caller read it with its row locked in its transaction (``repository.with_hold``)."""

    id: str
    status: str | None  # None: no such hold
    takes: tuple[Take, ...]

    @property
    def active(self) -> bool:
        return self.status == HoldStatus.ACTIVE


def plan(takes: Iterable[Take]) -> list[Take]:
    """Merge takes per pool and sort by pool id: the fixed lock order that keeps reservations deadlock-free."""
    merged: dict[str, int] = {}
    seatless: set[str] = set()
    for t in takes:
        if t.quantity <= 0:
            raise ValidationFailed(
                [{"field": "quantity", "code": "not_positive", "message": "Quantities must be positive."}]
            )
        merged[t.pool_id] = merged.get(t.pool_id, 0) + t.quantity
        if t.seatless:
            seatless.add(t.pool_id)
    return [Take(pid, merged[pid], pid in seatless) for pid in sorted(merged)]


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


# Units with identity (a seat, a room, a berth). A unit is sold per leg (a train seat: one bit per leg of its
# route; a hotel room: one bit per night; a concert seat: a single leg). Masks are integers; the database stores
# them as signed 64-bit integers (BIGINT), so a unit has at most 63 legs and every mask stays non-negative.
MAX_LEGS = 63
FULL_MASK = (1 << MAX_LEGS) - 1


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim on one unit for the legs set in ``mask``; with ``channel_bit`` (``core.channels.bit``), only while
    the unit is not withheld from that sales channel (0: any channel — staff moving a sold ticket, a hold's own
    claims)."""

    unit_id: str
    mask: int
    channel_bit: int = 0


def _bad_legs(message: str) -> ValidationFailed:
    return ValidationFailed([{"field": "legs", "code": "invalid_legs", "message": message}])


def check_legs(legs: int) -> int:
    if not 1 <= legs <= MAX_LEGS:
        raise _bad_legs("A unit has between 1 and 63 legs.")
    return legs


def mask_of(legs: Iterable[int]) -> int:
    """The mask with the bits of ``legs`` (0-based leg numbers) set."""
    mask = 0
    for leg in legs:
        if not 0 <= leg < MAX_LEGS:
            raise _bad_legs("A leg number is between 0 and 62.")
        mask |= 1 << leg
    return mask


def legs_of(mask: int) -> list[int]:
    """The leg numbers set in ``mask``, ascending (the inverse of ``mask_of``)."""
    return [leg for leg in range(MAX_LEGS) if mask >> leg & 1]


def span_mask(origin: int, destination: int) -> int:
    """A journey from stop ``origin`` to stop ``destination`` occupies legs ``origin … destination − 1`` (leg i
    runs from stop i to stop i + 1): A→B and B→C share no leg, so one seat serves both buyers."""
    if not 0 <= origin < destination <= MAX_LEGS:
        raise _bad_legs("A journey goes forward between two stops of the route.")
    return ((1 << destination) - 1) ^ ((1 << origin) - 1)


def unit_mask(legs: int) -> int:
    """Every leg of a unit with ``legs`` legs."""
    return (1 << check_legs(legs)) - 1


def beyond_legs(legs: int) -> int:
    """The bits a unit of ``legs`` legs does not have: stored as permanently blocked, so that the one guard
    ``(occupied | blocked) & mask = 0`` also refuses claims on legs the unit does not have."""
    return FULL_MASK & ~unit_mask(legs)


def overlaps(a: int, b: int) -> bool:
    return a & b != 0


def free_on(occupied: int, blocked: int, mask: int) -> bool:
    """The unit can be claimed for ``mask``: no leg of the mask is occupied or blocked."""
    return (occupied | blocked) & mask == 0


def occupy(occupied: int, mask: int) -> int:
    return occupied | mask


def vacate(occupied: int, mask: int) -> int:
    return occupied & ~mask


def plan_claims(claims: Iterable[Claim]) -> list[Claim]:
    """Merge claims per unit and sort by unit id (the lock order, after the pools). Two claims of one
    reservation on the same leg of a unit would sell it twice: refused."""
    merged: dict[str, int] = {}
    channels: dict[str, int] = {}  # a unit's claims are for the channels of all of them (one order: one channel)
    for c in claims:
        if not 0 < c.mask <= FULL_MASK:
            raise _bad_legs("A claim names at least one leg, and legs are numbered 0 to 62.")
        if overlaps(merged.get(c.unit_id, 0), c.mask):
            raise _bad_legs("The same seat is chosen twice for the same leg.")
        merged[c.unit_id] = merged.get(c.unit_id, 0) | c.mask
        channels[c.unit_id] = channels.get(c.unit_id, 0) | c.channel_bit
    return [Claim(uid, merged[uid], channels[uid]) for uid in sorted(merged)]


def check_mask(legs: int, mask: int) -> int:
    """A mask of legs that a unit of ``legs`` legs has: at least one, none beyond. Blocking or unblocking is
    checked with it, so that unblocking can never free a leg the unit does not have (``beyond_legs``)."""
    if mask <= 0 or mask & ~unit_mask(legs):
        raise ValidationFailed(
            [{"field": "mask", "code": "invalid_legs", "message": "Choose at least one leg that the seat has."}]
        )
    return mask


def merge_masks(claims: Iterable[Claim]) -> list[Claim]:
    """The union of the masks asked for per unit, sorted by unit id (the lock order). Unlike ``plan_claims``,
    overlapping masks are fine: blocking a leg twice blocks it once."""
    merged: dict[str, int] = {}
    for c in claims:
        if not 0 < c.mask <= FULL_MASK:
            raise _bad_legs("A claim names at least one leg, and legs are numbered 0 to 62.")
        merged[c.unit_id] = merged.get(c.unit_id, 0) | c.mask
    return [Claim(uid, merged[uid]) for uid in sorted(merged)]
