"""Sections generated from a few parameters: a rectangle of rows × seats, or an arc whose rows grow outward.

Coordinates are centimetres of the plan, ``y`` away from the stage (see ``layout``); row 1 (or A) is the row
nearest the stage. Seats are numbered as the audience faces the stage, either left to right (1, 2, 3, …) or the
Chinese theatre way, odd and even from the centre (单号/双号): seat 1 in the middle, odd numbers to the right,
even numbers to the left — "… 6 4 2 1 3 5 …". Row labels are numbers, or letters skipping I and O (which read as
1 and 0): A … H, J … N, P … Z, then AA, AB, ….

Parameters are checked all at once: a ``ValidationFailed`` lists every bad field with a stable code
(``out_of_range``, ``not_finite``, ``invalid_choice``, ``invalid_label``, ``too_many_seats``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from piaowu.core.errors import ValidationFailed
from piaowu.seating.layout import ADJACENT_FACTOR, Seat, SeatMap, Section, label_problem

MAX_SEATS_PER_SECTION = 20_000
MAX_ROWS = 500
MAX_SEATS_PER_ROW = 1_000
MAX_SPACING = 10_000.0  # 100 m between two seats or rows is no longer a section
MAX_RADIUS = 100_000.0
MAX_COORDINATE = 1_000_000.0
NUMBERINGS = ("left_to_right", "odd_even")
ROW_LABELS = ("numbers", "letters")
ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O


def row_label(index: int, style: str) -> str:
    """The label of the row ``index`` (1 = nearest the stage): "1", "2", … or "A" … "Z" without I and O, then
    "AA", "AB", … (like spreadsheet columns over those 24 letters)."""
    if style == "numbers":
        return str(index)
    label = ""
    while index > 0:
        index, rest = divmod(index - 1, len(ROW_LETTERS))
        label = ROW_LETTERS[rest] + label
    return label


def seat_numbers(count: int, numbering: str) -> list[str]:
    """The number labels of ``count`` seats listed left to right as the audience faces the stage."""
    if numbering == "left_to_right":
        return [str(i + 1) for i in range(count)]
    centre = count // 2  # with an even count, seat 1 is the one just right of the middle
    return [str(2 * (j - centre) + 1) if j >= centre else str(2 * (centre - j)) for j in range(count)]


# Field messages are fixed sentences (gettext msgids, translated in seating.po); the numbers in them are the
# limits above.
ROWS_MESSAGE = "Enter 1 to 500 rows."
SEATS_PER_ROW_MESSAGE = "Enter 1 to 1,000 seats a row."
FIRST_ROW_MESSAGE = "Enter a first row from 1 to 10,000."
SPACING_MESSAGE = "Enter a distance above 0, at most 10,000."
RADIUS_MESSAGE = "Enter a radius above 0, at most 100,000."
SPAN_MESSAGE = "Enter an angle above 0, at most 180 degrees."
DIRECTION_MESSAGE = "Enter an angle from -360 to 360 degrees."
COORDINATE_MESSAGE = "Enter a number from -1,000,000 to 1,000,000."
SECTION_SIZE_MESSAGE = "A section holds at most 20,000 seats."
ROW_SIZE_MESSAGE = "A row holds at most 1,000 seats."


class _Checks:
    """Collects every field error before refusing, so an operator fixes a form in one go."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def add(self, field: str, code: str, message: str, **data: Any) -> None:
        self.errors.append({"field": field, "code": code, "message": message, **data})

    def number(self, field: str, value: float, low: float, high: float, message: str, *, above: bool = False) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.add(field, "not_finite", "Enter a number.")
        elif value < low or value > high or (above and value == low):
            self.add(field, "out_of_range", message, min=low, max=high)

    def integer(self, field: str, value: int, low: int, high: int, message: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(field, "not_finite", "Enter a whole number.")
        elif not low <= value <= high:
            self.add(field, "out_of_range", message, min=low, max=high)

    def choice(self, field: str, value: str, choices: Sequence[str]) -> None:
        if value not in choices:
            self.add(field, "invalid_choice", "Choose one of the options offered.", choices=list(choices))

    def label(self, field: str, value: str, *, required: bool = True) -> None:
        problem = label_problem(value, required=required)
        if problem:
            self.add(field, "invalid_label", problem)

    def common(self, section_id: str, label: str, zone: str, numbering: str, row_labels: str, first_row: int) -> None:
        self.label("section_id", section_id)
        self.label("label", label, required=False)
        self.label("zone", zone)
        self.choice("numbering", numbering, NUMBERINGS)
        self.choice("row_labels", row_labels, ROW_LABELS)
        self.integer("first_row", first_row, 1, 10_000, FIRST_ROW_MESSAGE)

    def done(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


def _point(checks: _Checks, field: str, point: tuple[float, float] | None) -> None:
    if point is not None:
        for axis, value in zip("xy", point, strict=True):
            checks.number(f"{field}.{axis}", value, -MAX_COORDINATE, MAX_COORDINATE, COORDINATE_MESSAGE)


def rect_section(
    *,
    section_id: str,
    rows: int,
    seats_per_row: int,
    label: str = "",
    zone: str = "A",
    seat_spacing: float = 50.0,
    row_spacing: float = 90.0,
    origin: tuple[float, float] = (0.0, 0.0),
    numbering: str = "left_to_right",
    row_labels: str = "numbers",
    first_row: int = 1,
    aisles_after: Sequence[int] = (),
    aisle_width: float = 100.0,
    best: tuple[float, float] | None = None,
) -> SeatMap:
    """A rectangular section: ``rows`` rows of ``seats_per_row`` seats, the front-left seat at ``origin``.
    ``aisles_after`` lists seat positions (1-based, counted from the left) followed by an aisle ``aisle_width``
    wide, which breaks adjacency. The best point defaults to the middle of the row a third of the way back."""
    checks = _Checks()
    checks.common(section_id, label, zone, numbering, row_labels, first_row)
    checks.integer("rows", rows, 1, MAX_ROWS, ROWS_MESSAGE)
    checks.integer("seats_per_row", seats_per_row, 1, MAX_SEATS_PER_ROW, SEATS_PER_ROW_MESSAGE)
    checks.number("seat_spacing", seat_spacing, 0, MAX_SPACING, SPACING_MESSAGE, above=True)
    checks.number("row_spacing", row_spacing, 0, MAX_SPACING, SPACING_MESSAGE, above=True)
    checks.number("aisle_width", aisle_width, 0, MAX_SPACING, SPACING_MESSAGE, above=True)
    _point(checks, "origin", origin)
    _point(checks, "best", best)
    if not checks.errors:
        if rows * seats_per_row > MAX_SEATS_PER_SECTION:
            checks.add("rows", "too_many_seats", SECTION_SIZE_MESSAGE, max=MAX_SEATS_PER_SECTION)
        if any(isinstance(a, bool) or not isinstance(a, int) or not 1 <= a < seats_per_row for a in aisles_after):
            checks.add("aisles_after", "out_of_range", "Aisles go between two seats of the row.")
    checks.done()

    offsets, x = [], 0.0
    aisles = set(aisles_after)
    for j in range(seats_per_row):
        offsets.append(x)
        x += seat_spacing + (aisle_width if j + 1 in aisles else 0.0)
    numbers = seat_numbers(seats_per_row, numbering)
    seats = tuple(
        Seat(
            section=section_id,
            row=row_label(first_row + i, row_labels),
            number=numbers[j],
            x=round(origin[0] + offsets[j], 2),
            y=round(origin[1] + i * row_spacing, 2),
            zone=zone,
        )
        for i in range(rows)
        for j in range(seats_per_row)
    )
    if best is None:
        best = (origin[0] + offsets[-1] / 2, origin[1] + (rows // 3) * row_spacing)
    gap = ADJACENT_FACTOR * seat_spacing
    section = Section(section_id, label or section_id, "rect", round(best[0], 2), round(best[1], 2), gap)
    return SeatMap((section,), seats)


def arc_seat_counts(rows: int, radius: float, row_spacing: float, seat_spacing: float, angle_span: float) -> list[int]:
    """Seats per row of an arc: as many as fit on each row's arc, so rows further out hold more."""
    span = math.radians(angle_span)
    return [math.floor((radius + i * row_spacing) * span / seat_spacing + 1e-9) + 1 for i in range(rows)]


def arc_section(
    *,
    section_id: str,
    rows: int,
    radius: float,
    angle_span: float,
    label: str = "",
    zone: str = "A",
    seat_spacing: float = 50.0,
    row_spacing: float = 90.0,
    centre: tuple[float, float] = (0.0, 0.0),
    direction: float = 0.0,
    numbering: str = "left_to_right",
    row_labels: str = "numbers",
    first_row: int = 1,
    best: tuple[float, float] | None = None,
) -> SeatMap:
    """A curved section around ``centre`` (the stage, or the middle of a pitch): row 1 at ``radius``, each next
    row ``row_spacing`` further out, seats ``seat_spacing`` apart along the arc, which spans ``angle_span``
    degrees (at most 180) centred on ``direction`` (degrees; 0 = straight back from the centre, 90 = to its
    right on the plan). The best point defaults to the arc's middle a third of the way back."""
    checks = _Checks()
    checks.common(section_id, label, zone, numbering, row_labels, first_row)
    checks.integer("rows", rows, 1, MAX_ROWS, ROWS_MESSAGE)
    checks.number("radius", radius, 0, MAX_RADIUS, RADIUS_MESSAGE, above=True)
    checks.number("angle_span", angle_span, 0, 180, SPAN_MESSAGE, above=True)
    checks.number("direction", direction, -360, 360, DIRECTION_MESSAGE)
    checks.number("seat_spacing", seat_spacing, 0, MAX_SPACING, SPACING_MESSAGE, above=True)
    checks.number("row_spacing", row_spacing, 0, MAX_SPACING, SPACING_MESSAGE, above=True)
    _point(checks, "centre", centre)
    _point(checks, "best", best)
    checks.done()
    counts = arc_seat_counts(rows, radius, row_spacing, seat_spacing, angle_span)
    if any(count > MAX_SEATS_PER_ROW for count in counts):
        checks.add("seat_spacing", "too_many_seats", ROW_SIZE_MESSAGE, max=MAX_SEATS_PER_ROW)
    if sum(counts) > MAX_SEATS_PER_SECTION:
        checks.add("rows", "too_many_seats", SECTION_SIZE_MESSAGE, max=MAX_SEATS_PER_SECTION)
    checks.done()

    seats: list[Seat] = []
    middle = math.radians(direction)
    for i, count in enumerate(counts):
        r = radius + i * row_spacing
        step = seat_spacing / r
        first = middle - step * (count - 1) / 2
        numbers = seat_numbers(count, numbering)
        for j in range(count):
            # Growing angles run to the audience's right as it faces the centre, wherever the section lies.
            angle = first + j * step
            seats.append(
                Seat(
                    section=section_id,
                    row=row_label(first_row + i, row_labels),
                    number=numbers[j],
                    x=round(centre[0] + r * math.sin(angle), 2),
                    y=round(centre[1] + r * math.cos(angle), 2),
                    zone=zone,
                )
            )
    if best is None:
        r = radius + (rows // 3) * row_spacing
        best = (centre[0] + r * math.sin(middle), centre[1] + r * math.cos(middle))
    gap = ADJACENT_FACTOR * seat_spacing
    section = Section(section_id, label or section_id, "arc", round(best[0], 2), round(best[1], 2), gap)
    return SeatMap((section,), tuple(seats))
