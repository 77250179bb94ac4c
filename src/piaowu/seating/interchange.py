"""Seat maps in and out: a versioned JSON document and a CSV, both checked whole before anything is kept.

JSON, version 1 (UTF-8)::

    {
      "version": 1,
      "sections": [
        {"id": "A", "label": "一楼池座A区", "kind": "rect", "best": [450, 270], "seat_gap": 75}
      ],
      "seats": [
        {"section": "A", "row": "1", "number": "1", "x": 0, "y": 0, "zone": "VIP",
         "attributes": ["wheelchair"], "blocked": "press"}
      ]
    }

``kind`` is ``rect`` or ``arc``; ``best`` is the point best-available fills around (map units, ``y`` away from
the stage); ``label`` defaults to ``id``; ``seat_gap`` (optional) is the furthest two neighbours in a row may be
apart and still sit side by side (without it, it is derived from the seats: ``layout.derived_gap``). A seat's
``attributes`` (optional, default none) are among ``wheelchair``, ``companion``, ``restricted_view``,
``partial_view``; ``blocked`` (optional) is the reason the operator holds the seat back (house, press,
technical). Unknown fields are refused.

CSV (UTF-8, a BOM is ignored), one seat per line after the header::

    section,row,number,x,y,zone,attributes[,blocked]
    A,1,1,0,0,VIP,wheelchair;restricted_view,

``attributes`` are separated by ``;``; the optional ``blocked`` column holds the block reason (empty: not
blocked). A CSV has no sections: pass the layout's ``sections`` to attach seats to them, or they are derived
(``rect``, best point in the middle, a third of the way back).

An import either returns the whole map or raises ``ValidationFailed`` listing every problem (at most
``MAX_ERRORS``), line by line: each error names its ``line`` (CSV; the header is line 1) or its place in the
document (``field`` such as ``seats[12].zone``), the ``field``, a stable ``code`` and a fixed ``message`` (a
gettext msgid, translated in seating.po); what varies is in keys of its own (``zone``, ``attribute``,
``section``, ``other`` — the seat it clashes with and its line —, ``expected``/``found``, ``max``). Codes:

``bad_json``, ``bad_encoding``, ``bad_header``, ``bad_columns``, ``unsupported_version``, ``missing_field``,
``unknown_field``, ``bad_label`` (an empty, too long or formula-like label), ``bad_number`` (a coordinate that is
not a finite number), ``bad_kind``, ``unknown_section``, ``duplicate_section``, ``unknown_zone`` (not among the
``zones`` given), ``unknown_attribute``, ``conflicting_attributes`` (a wheelchair space that is also a companion
seat), ``duplicate_label`` (the same section, row and number twice), ``overlapping_coordinates`` (two seats closer
than ``min_distance``), ``too_many_seats``, ``no_seats``, ``too_many_errors``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from piaowu.core.errors import ValidationFailed
from piaowu.seating.generate import COORDINATE_MESSAGE, MAX_COORDINATE, MAX_SEATS_PER_SECTION, SECTION_SIZE_MESSAGE
from piaowu.seating.layout import ATTRIBUTES, SECTION_KINDS, Seat, SeatKey, SeatMap, Section, label_problem

VERSION = 1
CSV_COLUMNS = ("section", "row", "number", "x", "y", "zone", "attributes")
CSV_BLOCKED = "blocked"
MAX_SEATS = 200_000
MAX_ERRORS = 1_000
HEADER_MESSAGE = "The first line must be: section,row,number,x,y,zone,attributes (and blocked, if used)."
LAYOUT_SIZE_MESSAGE = "A layout holds at most 200,000 seats."
MIN_DISTANCE = 20.0  # two seat centres closer than 20 cm are one seat entered twice
REQUIRED = ("section", "row", "number", "x", "y", "zone")
SEAT_FIELDS = frozenset({"section", "row", "number", "x", "y", "zone", "attributes", "blocked"})
SECTION_FIELDS = frozenset({"id", "label", "kind", "best", "seat_gap"})


# ---- export ------------------------------------------------------------------------------------------------


def json_number(value: float) -> int | float:
    """Whole numbers without ".0" (smaller files); anything else as Python's shortest exact repr."""
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def export_json(seat_map: SeatMap) -> str:
    """The map as a version 1 JSON document (see the module's docstring)."""
    document = {
        "version": VERSION,
        "sections": [_section_json(section) for section in seat_map.sections],
        "seats": [_seat_json(seat) for seat in seat_map.seats],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _section_json(s: Section) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": s.id,
        "label": s.label,
        "kind": s.kind,
        "best": [json_number(s.best_x), json_number(s.best_y)],
    }
    if s.seat_gap:
        item["seat_gap"] = json_number(s.seat_gap)
    return item


def _seat_json(seat: Seat) -> dict[str, Any]:
    item: dict[str, Any] = {
        "section": seat.section,
        "row": seat.row,
        "number": seat.number,
        "x": json_number(seat.x),
        "y": json_number(seat.y),
        "zone": seat.zone,
    }
    if seat.attributes:
        item["attributes"] = sorted(seat.attributes)
    if seat.blocked:
        item["blocked"] = seat.blocked_reason
    return item


def export_csv(seat_map: SeatMap) -> str:
    """The seats as CSV; the ``blocked`` column is written only when some seat is blocked."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    blocked = any(seat.blocked for seat in seat_map.seats)
    writer.writerow(CSV_COLUMNS + ((CSV_BLOCKED,) if blocked else ()))
    for s in seat_map.seats:
        row = [
            s.section,
            s.row,
            s.number,
            repr(json_number(s.x)),
            repr(json_number(s.y)),
            s.zone,
            ";".join(sorted(s.attributes)),
        ]
        writer.writerow(row + ([s.blocked_reason] if blocked else []))
    return out.getvalue()


# ---- import ------------------------------------------------------------------------------------------------


class _TooMany(Exception):
    pass


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, where: dict[str, Any], field: str, code: str, message: str, **data: Any) -> None:
        """One problem. ``message`` is a fixed sentence (a gettext msgid, see seating.po); what varies (the
        zone, the other seat, the line it is on) goes in ``data``, so the sentence translates."""
        if len(self.items) >= MAX_ERRORS:
            message = "Too many problems: fix these and import the file again."
            self.items.append({"field": "", "code": "too_many_errors", "message": message, "limit": MAX_ERRORS})
            raise _TooMany
        place = {k: v for k, v in where.items() if k != "prefix"}
        self.items.append({**place, "field": where.get("prefix", "") + field, "code": code, "message": message, **data})


def _coordinate(value: object, *, text: bool = False) -> float | None:
    """A finite number within the plan, or None. Text is read as a number only from a CSV cell: in JSON,
    "12" is a string, not a coordinate."""
    if isinstance(value, str) and text:
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and abs(value) <= MAX_COORDINATE else None


class _SeatReader:
    """Checks seat records one by one, then the map as a whole (labels, coordinates, sizes)."""

    def __init__(self, errors: _Errors, zones: Collection[str] | None, min_distance: float, *, from_text: bool) -> None:
        self.errors = errors
        self.from_text = from_text
        self.zones = None if zones is None else frozenset(zones)
        self.min_distance = min_distance
        self.seats: list[tuple[dict[str, Any], Seat]] = []
        # Labels and coordinates are checked across the map even on lines with other problems, so one pass
        # reports a duplicate label or an overlap next to a bad zone.
        self.keys: list[tuple[dict[str, Any], SeatKey]] = []
        self.points: list[tuple[dict[str, Any], SeatKey, float, float]] = []

    def label(self, where: dict[str, Any], field: str, value: object, *, required: bool = True) -> str | None:
        problem = label_problem(value, required=required)
        if problem:
            self.errors.add(where, field, "bad_label", problem)
            return None
        return value  # type: ignore[return-value]

    def read(self, where: dict[str, Any], raw: dict[str, Any], attributes: Iterable[object] | None) -> None:
        ok = True
        labels = {}
        missing = [field for field in REQUIRED if raw.get(field) is None]
        for field in missing:
            self.errors.add(where, field, "missing_field", "Required.")
        for field in ("section", "row", "number", "zone"):
            labels[field] = None if field in missing else self.label(where, field, raw.get(field))
            ok &= labels[field] is not None
        coordinates = {}
        for field in ("x", "y"):
            coordinates[field] = _coordinate(raw.get(field), text=self.from_text)
            if coordinates[field] is None and field not in missing:
                self.errors.add(where, field, "bad_number", COORDINATE_MESSAGE)
            ok &= coordinates[field] is not None
        zone = labels["zone"]
        if zone is not None and self.zones is not None and zone not in self.zones:
            self.errors.add(where, "zone", "unknown_zone", "This zone is not one of the layout's zones.", zone=zone)
            ok = False
        key = (labels["section"], labels["row"], labels["number"])
        if None not in key:
            self.keys.append((where, key))
            if None not in coordinates.values():
                self.points.append((where, key, coordinates["x"], coordinates["y"]))
        found = set()
        for attribute in attributes or ():
            if attribute not in ATTRIBUTES:
                self.errors.add(
                    where,
                    "attributes",
                    "unknown_attribute",
                    "Use only wheelchair, companion, restricted_view and partial_view.",
                    attribute=attribute,
                )
                ok = False
            else:
                found.add(attribute)
        if {"wheelchair", "companion"} <= found:
            self.errors.add(
                where, "attributes", "conflicting_attributes", "A wheelchair space is not a companion seat."
            )
            ok = False
        reason = self.label(where, "blocked", raw.get("blocked") or "", required=False)
        ok &= reason is not None
        if ok:
            seat = Seat(
                section=labels["section"],
                row=labels["row"],
                number=labels["number"],
                x=coordinates["x"],
                y=coordinates["y"],
                zone=zone,
                attributes=frozenset(found),
                blocked_reason=reason or "",
            )
            self.seats.append((where, seat))

    def check_map(self, known_sections: Collection[str] | None) -> None:
        first: dict[SeatKey, dict[str, Any]] = {}
        per_section: dict[str, int] = {}
        for where, key in self.keys:
            section = key[0]
            if known_sections is not None and section not in known_sections:
                message = "This layout has no section with this id."
                self.errors.add(where, "section", "unknown_section", message, section=section)
            if key in first:
                message = "This section, row and seat number are already used."
                self.errors.add(where, "number", "duplicate_label", message, other=_other(key, first[key]))
            else:
                first[key] = where
            per_section[section] = per_section.get(section, 0) + 1
            if per_section[section] == MAX_SEATS_PER_SECTION + 1:
                message = SECTION_SIZE_MESSAGE
                self.errors.add(where, "section", "too_many_seats", message)
        self.check_overlaps()

    def check_overlaps(self) -> None:
        """Seats closer than ``min_distance``: a grid of cells that size, so each seat is compared only with
        those in its own and the 8 cells around it (an 80,000-seat map is not 3.2 billion comparisons)."""
        size = self.min_distance
        if size <= 0:
            return
        grid: dict[tuple[int, int], list[tuple[dict[str, Any], SeatKey, float, float]]] = {}
        for point in self.points:
            where, _, x, y = point
            cx, cy = math.floor(x / size), math.floor(y / size)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for other_where, other, ox, oy in grid.get((cx + dx, cy + dy), ()):
                        if math.hypot(x - ox, y - oy) < size:
                            message = "This seat is too close to another seat (the same seat twice?)."
                            self.errors.add(
                                where,
                                "x",
                                "overlapping_coordinates",
                                message,
                                min_distance=size,
                                other=_other(other, other_where),
                            )
            grid.setdefault((cx, cy), []).append(point)


def _other(key: SeatKey, where: dict[str, Any]) -> dict[str, Any]:
    """The seat a problem is about, where the file has it: its labels and its line (CSV) or place (JSON)."""
    if "line" in where:
        return {"seat": list(key), "line": where["line"]}
    return {"seat": list(key), "field": where.get("prefix", "").rstrip(".")}


def _guarded(body: Callable[[_Errors], SeatMap]) -> SeatMap:
    errors = _Errors()
    try:
        seat_map = body(errors)
    except _TooMany:
        pass
    else:
        if not errors.items:
            return seat_map
    # Line by line, as an operator fixes the file; the cap's notice stays last.
    raise ValidationFailed(sorted(errors.items, key=lambda e: (e["code"] == "too_many_errors", e.get("line") or 0)))


def _text(data: str | bytes, errors: _Errors) -> str | None:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.add({}, "", "bad_encoding", "The file is not UTF-8 text.", byte=exc.start)
            return None
    return data.removeprefix("\ufeff")


def import_json(
    data: str | bytes, *, zones: Collection[str] | None = None, min_distance: float = MIN_DISTANCE
) -> SeatMap:
    """The map in a version 1 JSON document, or ``ValidationFailed`` with every problem found."""

    def body(errors: _Errors) -> SeatMap:
        text = _text(data, errors)
        if text is None:
            return SeatMap((), ())
        try:
            document = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            line = getattr(exc, "lineno", None)
            errors.add(
                {"line": line} if line else {}, "", "bad_json", "The file is not a JSON document.", detail=str(exc)
            )
            return SeatMap((), ())
        if not isinstance(document, dict) or document.get("version") != VERSION:
            errors.add({}, "version", "unsupported_version", "This is not a version 1 seat map.")
            return SeatMap((), ())
        for key in sorted(set(document) - {"version", "sections", "seats"}):
            errors.add({}, key, "unknown_field", "Unknown field.")
        sections = _json_sections(document.get("sections"), errors)
        reader = _SeatReader(errors, zones, min_distance, from_text=False)
        seats = document.get("seats")
        if not isinstance(seats, list):
            errors.add({}, "seats", "missing_field", "Expected a list of seats.")
            return SeatMap((), ())
        if len(seats) > MAX_SEATS:
            errors.add({}, "seats", "too_many_seats", LAYOUT_SIZE_MESSAGE, max=MAX_SEATS)
            return SeatMap((), ())
        for i, item in enumerate(seats):
            where = {"prefix": f"seats[{i}]."}
            if not isinstance(item, dict):
                errors.add(where, "", "bad_columns", "Expected an object.")
                continue
            for key in sorted(set(item) - SEAT_FIELDS):
                errors.add(where, key, "unknown_field", "Unknown field.")
            attributes = item.get("attributes", [])
            if not isinstance(attributes, list):
                errors.add(where, "attributes", "unknown_attribute", "Expected a list.")
                continue
            reader.read(where, item, attributes)
        reader.check_map({s.id for s in sections})
        if not seats:
            errors.add({}, "seats", "no_seats", "A layout needs seats.")
        return SeatMap(tuple(sections), tuple(seat for _, seat in reader.seats))

    return _guarded(body)


def _json_sections(raw: object, errors: _Errors) -> list[Section]:
    if not isinstance(raw, list):
        errors.add({}, "sections", "missing_field", "Expected a list of sections.")
        return []
    sections: list[Section] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = {"prefix": f"sections[{i}]."}
        if not isinstance(item, dict):
            errors.add(where, "", "bad_columns", "Expected an object.")
            continue
        for key in sorted(set(item) - SECTION_FIELDS):
            errors.add(where, key, "unknown_field", "Unknown field.")
        ok = True
        section_id = item.get("id")
        for field, value, required in (("id", section_id, True), ("label", item.get("label", ""), False)):
            problem = label_problem(value, required=required)
            if problem:
                errors.add(where, field, "bad_label", problem)
                ok = False
        kind = item.get("kind", "rect")
        if kind not in SECTION_KINDS:
            errors.add(where, "kind", "bad_kind", "Choose rect or arc.")
            ok = False
        best = item.get("best")
        point = [_coordinate(v) for v in best] if isinstance(best, list) and len(best) == 2 else [None]
        if None in point:
            errors.add(where, "best", "bad_number", "Expected [x, y], two numbers.")
            ok = False
        gap = _coordinate(item.get("seat_gap", 0))
        if gap is None or gap < 0:
            errors.add(where, "seat_gap", "bad_number", "Expected a distance, 0 or more.")
            ok = False
        if ok and section_id in seen:
            errors.add(where, "id", "duplicate_section", "This section id is used twice.", section=section_id)
        elif ok:
            seen.add(section_id)
            sections.append(Section(section_id, item.get("label") or section_id, kind, point[0], point[1], gap))
    return sections


def import_csv(
    data: str | bytes,
    *,
    zones: Collection[str] | None = None,
    sections: Sequence[Section] | None = None,
    min_distance: float = MIN_DISTANCE,
) -> SeatMap:
    """The seats of a CSV (see the module's docstring) on the given ``sections`` (or derived ones), or
    ``ValidationFailed`` with every problem found, line by line."""

    def body(errors: _Errors) -> SeatMap:
        text = _text(data, errors)
        if text is None:
            return SeatMap((), ())
        reader = _SeatReader(errors, zones, min_distance, from_text=True)
        lines = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(lines, None)
        except csv.Error as exc:
            errors.add({"line": 1}, "", "bad_header", "The file is not CSV.", detail=str(exc))
            return SeatMap((), ())
        header = [cell.strip() for cell in header or ()]
        if tuple(header) not in (CSV_COLUMNS, CSV_COLUMNS + (CSV_BLOCKED,)):
            errors.add({"line": 1}, "", "bad_header", HEADER_MESSAGE)
            return SeatMap((), ())
        count = 0
        while True:
            try:
                cells = next(lines, None)
            except csv.Error as exc:
                errors.add({"line": lines.line_num}, "", "bad_columns", "The file is not CSV.", detail=str(exc))
                break
            if cells is None:
                break
            if not cells or cells == [""]:
                continue  # a blank line
            where = {"line": lines.line_num}
            count += 1
            if count > MAX_SEATS:
                errors.add(where, "", "too_many_seats", LAYOUT_SIZE_MESSAGE, max=MAX_SEATS)
                break
            if len(cells) != len(header):
                message = "This line does not have as many columns as the header."
                errors.add(where, "", "bad_columns", message, expected=len(header), found=len(cells))
                continue
            raw = dict(zip(header, cells, strict=True))
            attributes = [a.strip() for a in raw["attributes"].split(";") if a.strip()]
            reader.read(where, raw, attributes)
        known = None if sections is None else {s.id for s in sections}
        reader.check_map(known)
        if not count:
            errors.add({}, "seats", "no_seats", "A layout needs seats.")
        seats = tuple(seat for _, seat in reader.seats)
        return SeatMap(tuple(sections) if sections is not None else derived_sections(seats), seats)

    return _guarded(body)


def derived_sections(seats: Sequence[Seat]) -> tuple[Section, ...]:
    """Sections for seats that came without any: one ``rect`` section per section label, in order of first
    appearance, its best point in the middle of its seats, a third of the way back from the front row."""
    bounds: dict[str, list[float]] = {}
    for seat in seats:
        b = bounds.setdefault(seat.section, [seat.x, seat.x, seat.y, seat.y])
        b[0], b[1], b[2], b[3] = min(b[0], seat.x), max(b[1], seat.x), min(b[2], seat.y), max(b[3], seat.y)
    return tuple(
        Section(sid, sid, "rect", round((b[0] + b[1]) / 2, 2), round(b[2] + (b[3] - b[2]) / 3, 2))
        for sid, b in bounds.items()
    )
