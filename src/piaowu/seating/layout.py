"""Seat maps as plain values: sections, seats, rows in seat order, and which seats are side by side.

Coordinates are map units of the venue's plan, ``x`` to the right and ``y`` away from the stage (as an SVG is
drawn: the stage at the top). The generator uses centimetres (a seat 50 wide, rows 90 apart); nothing here
depends on the unit, because adjacency is measured against each section's own seat spacing.

A seat is named by its printed labels, ``(section, row, number)`` — its ``key``. A row's seats are ordered
along the row's main direction (its principal axis, pointing right, or down when the row is vertical), which is
left to right for a straight row and along the curve for an arc of at most 180°. Two seats are **adjacent**
when they are next to each other in that order and no further apart than the section's ``seat_gap``
(generated sections: 1.5 seat spacings; otherwise derived from the section's seats, see ``derived_gap``): an
aisle or a gap in a row breaks adjacency, so a row may hold several blocks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from statistics import median

from piaowu.core.errors import ValidationFailed
from piaowu.core.inputs import forbidden_characters

SECTION_KINDS = ("rect", "arc")
# What a buyer must see before paying (issue 8): a space for a wheelchair, the seat next to it kept for a
# companion, a view obstructed by a pillar (柱子票) or only part of the stage visible.
ATTRIBUTES = ("wheelchair", "companion", "restricted_view", "partial_view")
# Neighbours further apart than this many typical spacings have an aisle or a gap between them.
ADJACENT_FACTOR = 1.5

SeatKey = tuple[str, str, str]  # (section, row, number) as printed on the ticket


@dataclass(frozen=True, slots=True)
class Section:
    """A part of the house drawn and sold as one: its ``id`` is printed on the ticket with the row and seat
    (``label`` is its longer display name). ``best_x``/``best_y`` is the point best-available fills around.
    ``seat_gap`` is set by the generator (1.5 seat spacings); a section imported without it derives it from
    its seats (see ``rows_of``)."""

    id: str
    label: str
    kind: str = "rect"
    best_x: float = 0.0
    best_y: float = 0.0
    seat_gap: float = 0.0  # the furthest two seats of a row may be apart and still be side by side; 0: derived


@dataclass(frozen=True, slots=True)
class Seat:
    """One seat of a map. ``zone`` is its price zone; ``attributes`` a subset of ``ATTRIBUTES``; a seat with a
    ``blocked_reason`` (house, press, technical) is ``blocked``: never sold until the operator releases it."""

    section: str
    row: str
    number: str
    x: float
    y: float
    zone: str
    attributes: frozenset[str] = frozenset()
    blocked_reason: str = ""

    @property
    def key(self) -> SeatKey:
        return (self.section, self.row, self.number)

    @property
    def blocked(self) -> bool:
        return bool(self.blocked_reason)

    @property
    def wheelchair(self) -> bool:
        return "wheelchair" in self.attributes

    @property
    def companion(self) -> bool:
        return "companion" in self.attributes

    @property
    def reserved_for_access(self) -> bool:
        """Wheelchair spaces and companion seats go only to buyers who ask for accessible seating."""
        return "wheelchair" in self.attributes or "companion" in self.attributes


@dataclass(frozen=True, slots=True)
class SeatMap:
    """A layout: its sections and seats, each in a stable order (the order they are drawn, listed, exported)."""

    sections: tuple[Section, ...]
    seats: tuple[Seat, ...]

    def section(self, section_id: str) -> Section:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)

    def zones(self) -> list[str]:
        """The zones of its seats, in order of first appearance."""
        return list(dict.fromkeys(seat.zone for seat in self.seats))


@dataclass(frozen=True, slots=True)
class Row:
    """The seats of one row in seat order; ``adjacent[i]`` says whether ``seats[i]`` and ``seats[i + 1]`` are
    side by side (no aisle or gap between them)."""

    section: str
    label: str
    seats: tuple[Seat, ...]
    adjacent: tuple[bool, ...]

    def blocks(self) -> list[tuple[Seat, ...]]:
        """The row cut at its aisles and gaps: runs of seats that are side by side."""
        blocks: list[tuple[Seat, ...]] = []
        start = 0
        for i, side_by_side in enumerate(self.adjacent):
            if not side_by_side:
                blocks.append(self.seats[start : i + 1])
                start = i + 1
        if self.seats:
            blocks.append(self.seats[start:])
        return blocks


MAX_LABEL = 50
# A cell starting with one of these is a formula to a spreadsheet opening the exported CSV.
FORMULA_STARTS = ("=", "+", "-", "@")


def label_problem(value: object, *, required: bool = True) -> str | None:
    """Why ``value`` cannot be a printed label (section, row, number, zone, block reason), or None: labels are
    1 to 50 characters, trimmed, without control characters, and do not start like a spreadsheet formula."""
    if not isinstance(value, str):
        return "Enter text."
    if not value:
        return "Enter a label." if required else None
    if len(value) > MAX_LABEL:
        return "Enter at most 50 characters."
    if value != value.strip() or forbidden_characters(value):
        return "Remove spaces around the label and control characters."
    if value.startswith(FORMULA_STARTS):
        return "A label cannot start with =, +, - or @."
    return None


_DIGITS = re.compile(r"(\d+)")


def natural_key(label: str) -> tuple[tuple[int, int | str], ...]:
    """Sort labels as people read them: "2" before "10", "A2" before "A10"."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(label) if part)


def order_row(seats: Iterable[Seat]) -> tuple[Seat, ...]:
    """The seats of one row along the row's principal axis (left to right, or top to bottom for a vertical
    row); seats at the same place are ordered by their number label."""
    seats = list(seats)
    if len(seats) < 2:
        return tuple(seats)
    mx = sum(s.x for s in seats) / len(seats)
    my = sum(s.y for s in seats) / len(seats)
    sxx = sum((s.x - mx) ** 2 for s in seats)
    syy = sum((s.y - my) ** 2 for s in seats)
    sxy = sum((s.x - mx) * (s.y - my) for s in seats)
    angle = 0.5 * math.atan2(2 * sxy, sxx - syy)
    dx, dy = math.cos(angle), math.sin(angle)
    if dx < -1e-9 or (abs(dx) <= 1e-9 and dy < 0):
        dx, dy = -dx, -dy
    # Rounded so that float noise on a straight row never outranks the number label.
    return tuple(sorted(seats, key=lambda s: (round(s.x * dx + s.y * dy, 6), natural_key(s.number))))


def _distance(a: Seat, b: Seat) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)


def derived_gap(gaps: list[float]) -> float:
    """The seat gap of a section that does not say it: ``ADJACENT_FACTOR`` times the typical distance between
    neighbours in a row, the median of those at most twice the smallest, so that aisles, however many, do not
    count as seat spacing."""
    if not gaps:
        return 0.0
    smallest = min(gaps)
    return ADJACENT_FACTOR * median(g for g in gaps if g <= 2 * smallest)


def rows_of(seat_map: SeatMap) -> tuple[Row, ...]:
    """Every row of the map, by section (in the map's order), then rows in order of first appearance."""
    grouped: dict[str, dict[str, list[Seat]]] = {section.id: {} for section in seat_map.sections}
    gaps_of = {section.id: section.seat_gap for section in seat_map.sections}
    for seat in seat_map.seats:
        grouped.setdefault(seat.section, {}).setdefault(seat.row, []).append(seat)
    rows: list[Row] = []
    for section_id, section_rows in grouped.items():
        ordered = {label: order_row(seats) for label, seats in section_rows.items()}
        limit = gaps_of.get(section_id) or derived_gap(
            [_distance(r[i], r[i + 1]) for r in ordered.values() for i in range(len(r) - 1)]
        )
        for label, seats in ordered.items():
            adjacent = tuple(_distance(seats[i], seats[i + 1]) <= limit for i in range(len(seats) - 1))
            rows.append(Row(section_id, label, seats, adjacent))
    return tuple(rows)


def neighbours(rows: Iterable[Row]) -> dict[SeatKey, tuple[SeatKey | None, SeatKey | None]]:
    """Each seat's adjacent seat on its left and on its right (``None`` at a row end, an aisle or a gap)."""
    result: dict[SeatKey, tuple[SeatKey | None, SeatKey | None]] = {}
    for row in rows:
        for i, seat in enumerate(row.seats):
            left = row.seats[i - 1].key if i > 0 and row.adjacent[i - 1] else None
            right = row.seats[i + 1].key if i + 1 < len(row.seats) and row.adjacent[i] else None
            result[seat.key] = (left, right)
    return result


def are_adjacent(rows: Iterable[Row], a: SeatKey, b: SeatKey) -> bool:
    """Whether two seats are side by side in their row."""
    left, right = neighbours(rows).get(a, (None, None))
    return b in (left, right)


def duplicates(keys: Iterable[SeatKey]) -> Iterator[SeatKey]:
    """The keys seen more than once (each time after the first)."""
    seen: set[SeatKey] = set()
    for key in keys:
        if key in seen:
            yield key
        seen.add(key)


def combine(*maps: SeatMap) -> SeatMap:
    """Several maps (generated sections, say) as one layout; a section id or seat label used twice is refused."""
    sections = tuple(section for m in maps for section in m.sections)
    seats = tuple(seat for m in maps for seat in m.seats)
    errors = []
    for section_id in duplicates((s.id, "", "") for s in sections):
        message = "This section id is used twice."
        errors.append({"field": "sections", "code": "duplicate_section", "message": message, "section": section_id[0]})
    for key in duplicates(seat.key for seat in seats):
        message = "The same section, row and seat number are used twice."
        errors.append({"field": "seats", "code": "duplicate_label", "message": message, "seat": list(key)})
    if errors:
        raise ValidationFailed(errors)
    return SeatMap(sections, seats)
