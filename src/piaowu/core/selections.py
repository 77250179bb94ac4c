"""Products are selected, not just counted: the pure types between what a buyer chose and what is reserved.

An order item is *product + selection + holders*. The product kind names a resolver; the resolver turns the
selections of that kind into order lines, each with what it holds (``PoolHolding``: units taken from a pool;
``UnitHolding``: a unit with identity and the mask of legs it occupies) and its price inputs. Orders reserve
exactly what the resolution holds and record it per line (``order_line_holdings``), so expiry, refunds and
changes give back what was taken, whatever the catalog says later.

These types live in ``core`` so that a product area (catalog today; seating, timed entry, rail later) can
implement a resolver without importing orders, and orders can use any resolver without importing upward.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from piaowu.core.errors import UnknownProduct


@dataclass(frozen=True, slots=True)
class PoolHolding:
    """``quantity`` units of a counted pool (a session's capacity, a ticket type's quota, a night, a leg)."""

    pool_id: str
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class UnitHolding:
    """A unit with identity (a seat, a room, a berth) on the legs or nights of ``mask``."""

    unit_id: str
    mask: int


Holding = PoolHolding | UnitHolding


@dataclass(frozen=True, slots=True)
class SeatLabel:
    """A seat as printed on the ticket: section, row, number (order lines keep it: ``seat_section`` …)."""

    section: str
    row: str
    number: str


@dataclass(frozen=True, slots=True)
class Item:
    """One item of an order request: a product kind, the resolver's parsed selection, and one holder name per
    ticket (or none). ``index`` is its position in the request and ``at`` the path of its selection's fields
    (``items.0`` for the counted shape, ``items.0.selection`` for the selected one), so problems point there."""

    product: str
    selection: Any
    holders: tuple[str, ...] = ()
    index: int = 0
    at: str = "items.0"
    # The order's sales channel (``core.channels``): a resolver selling units only some channels may sell (seats
    # withheld from a channel) checks it; the reservation's claim enforces it.
    channel: str = "web"


@dataclass(frozen=True, slots=True)
class ResolvedLine:
    """One ticket to sell: its price inputs (the offer's list price, in the offer's currency), what it holds,
    and the snapshot the order line keeps (names as they were at the sale)."""

    ticket_type_id: str
    ticket_type_name: str
    session_id: str
    price_minor: int
    currency: str
    holdings: tuple[Holding, ...]
    holder_name: str = ""
    event_name: str = ""
    session_name: str = ""
    starts_at: datetime | None = None
    seat: SeatLabel | None = None  # an assigned seat's printed labels; None for admission without a seat


@dataclass(frozen=True)
class Resolution:
    """What a set of items resolves to: the lines, and (derived from them) every pool take and unit claim."""

    lines: tuple[ResolvedLine, ...] = ()
    # What the reservation must re-verify in its own statement (rows the resolver read from a cache: the
    # database layer's ``RowCheck``s, opaque here). Empty when the resolver read nothing cached.
    checks: tuple[Any, ...] = ()
    # Some unit was chosen for the buyer from a view that may be a moment old (best available): a ``SeatTaken``
    # may be answered by resolving again from a fresh view (bounded), rather than refusing the buyer.
    rechoose: bool = False
    # Pools taken from without a unit with identity (counted admission): the reservation takes them only while
    # the pool does not sell seats alone (``inventory`` ``Take.seatless``), checked on the pool's row itself.
    seatless: frozenset[str] = frozenset()
    # Told the units a claim found taken (``SeatTaken``), so the resolver's view shows them taken and choosing
    # again avoids them without reading every state again (``seating.live``).
    taken: tuple[Callable[[Sequence[str]], None], ...] = field(default=(), compare=False)
    # A refusal (``SeatTaken``) may have a more precise name the resolver did not read beforehand (a picked
    # seat kept back, or withheld from the channel: the claim refuses those too): each of these, given the unit of
    # work, reads what names it and raises the named error (or returns: the refusal stands as it is).
    name: tuple[Callable[[Any], Awaitable[None]], ...] = field(default=(), compare=False)

    @property
    def takes(self) -> list[tuple[str, int]]:
        """(pool id, units) summed over every line, in the order pools first appear."""
        total: Counter[str] = Counter()
        for line in self.lines:
            for h in line.holdings:
                if isinstance(h, PoolHolding):
                    total[h.pool_id] += h.quantity
        return list(total.items())

    @property
    def claims(self) -> list[tuple[str, int]]:
        """(unit id, mask) of every line, as held (the engine refuses the same leg claimed twice)."""
        return [(h.unit_id, h.mask) for line in self.lines for h in line.holdings if isinstance(h, UnitHolding)]

    @property
    def total_minor(self) -> int:
        return sum(line.price_minor for line in self.lines)

    @property
    def currencies(self) -> set[str]:
        return {line.currency for line in self.lines}

    @staticmethod
    def join(parts: Iterable[Resolution]) -> Resolution:
        parts = list(parts)
        return Resolution(
            tuple(line for part in parts for line in part.lines),
            tuple(c for part in parts for c in part.checks),
            any(part.rechoose for part in parts),
            frozenset(p for part in parts for p in part.seatless),
            tuple(t for part in parts for t in part.taken),
            tuple(n for part in parts for n in part.name),
        )

    def seats_of(self, unit_ids: Iterable[str]) -> list[dict[str, str]]:
        """``[{id, section, row, number}]`` of the lines' seats among ``unit_ids``, in the order given (a
        ``SeatTaken`` names units; the buyer is told the printed labels)."""
        labels = {
            h.unit_id: line.seat
            for line in self.lines
            if line.seat is not None
            for h in line.holdings
            if isinstance(h, UnitHolding)
        }
        out = []
        for unit_id in unit_ids:
            seat = labels.get(unit_id)
            if seat is not None:
                out.append({"id": unit_id, "section": seat.section, "row": seat.row, "number": seat.number})
        return out


class Resolver(Protocol):
    """Turns the selections of one product kind into lines. ``parse`` and ``resolve`` are pure; ``load`` reads
    what ``resolve`` needs (offers, units) in the caller's unit of work — typed ``Any`` here because ``core``
    cannot name the database layer.

    A resolver resolves all of its items or raises (``ValidationFailed``, ``NotOnSale``, ``InvalidQuantity``…):
    never a partial resolution. Every pool and unit it names comes from what ``load`` returned (the offers),
    never from the request."""

    kind: str

    def parse(self, raw: Mapping[str, Any], field: str) -> Any:
        """The typed selection from a request's ``selection`` object; ``ValidationFailed`` at ``field.*``."""
        ...

    async def load(self, uow: Any, organizer_id: str, items: Sequence[Item], *, fresh: bool = False) -> Any:
        """What ``resolve`` needs of the database for these items; ``fresh``: not from any cache (a cached read
        was found stale, or the items are about to be refused)."""
        ...

    def resolve(self, items: Sequence[Item], context: Any) -> Resolution: ...


class Registry:
    """Resolvers by product kind. A kind nobody resolves is the client's mistake: ``UnknownProduct`` (422)."""

    def __init__(self, resolvers: Iterable[Resolver]) -> None:
        self._by_kind: dict[str, Resolver] = {}
        for r in resolvers:
            if r.kind in self._by_kind:
                raise ValueError(f"two resolvers for product kind {r.kind!r}")
            self._by_kind[r.kind] = r

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._by_kind)

    def get(self, kind: str, field: str = "product") -> Resolver:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise UnknownProduct(product=kind, field=field, known=list(self._by_kind)) from None

    def parse(self, kind: str, raw: Mapping[str, Any], holders: Sequence[str], index: int) -> Item:
        """One request item of the selected shape → an ``Item`` (``UnknownProduct`` or ``ValidationFailed``)."""
        resolver = self.get(kind, f"items.{index}.product")
        at = f"items.{index}.selection"
        return Item(kind, resolver.parse(raw, at), tuple(holders), index, at)
