"""Edits made on the map editor, applied to a seat map: pure, plain values in and out.

The editor sends only what changed — each edited seat named by the key it had when the page was loaded, with
its new labels, place, zone, attributes and block reason, and the keys of deleted seats — so a save of a few
seats of a 20,000-seat layout stays small. ``apply_edits`` returns the new map; it does not judge it: the
caller checks the result with the import rules (``interchange``), so an edited map and an imported one pass
the same checks (duplicate labels, overlapping seats, labels a spreadsheet would run).

Document (JSON)::

    {"changes": [{"key": ["A", "1", "5"], "row": "1", "number": "5", "x": 200, "y": 0, "zone": "A",
                  "attributes": ["wheelchair"], "blocked": ""}],
     "deleted": [["A", "1", "6"]]}
"""

from __future__ import annotations

import json
import math
from typing import Any

from piaowu.core.errors import ValidationFailed
from piaowu.seating.layout import Seat, SeatKey, SeatMap

CHANGE_FIELDS = frozenset({"key", "row", "number", "x", "y", "zone", "attributes", "blocked"})
MAX_EDITS = 200_000
BAD_DOCUMENT = "The changes could not be read: reload the page and try again."
GONE_MESSAGE = "This seat is no longer on the layout: reload the page."


def _problem(field: str, code: str, message: str, **data: Any) -> dict[str, Any]:
    return {"field": field, "code": code, "message": message, **data}


def _key(value: object) -> SeatKey | None:
    if isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value):
        return (value[0], value[1], value[2])
    return None


def _change(raw: object, where: str, problems: list[dict[str, Any]]) -> tuple[SeatKey, dict[str, Any]] | None:
    if not isinstance(raw, dict) or not set(raw) <= CHANGE_FIELDS or _key(raw.get("key")) is None:
        problems.append(_problem(where, "bad_edit", BAD_DOCUMENT))
        return None
    key = _key(raw["key"])
    assert key is not None
    values: dict[str, Any] = {}
    for name in ("row", "number", "zone", "blocked"):
        if name in raw:
            if not isinstance(raw[name], str):
                problems.append(_problem(f"{where}.{name}", "bad_edit", BAD_DOCUMENT))
                return None
            values[name] = raw[name].strip()
    for name in ("x", "y"):
        if name in raw:
            v = raw[name]
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                problems.append(_problem(f"{where}.{name}", "bad_edit", BAD_DOCUMENT))
                return None
            values[name] = float(v)
    if "attributes" in raw:
        attrs = raw["attributes"]
        if not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs):
            problems.append(_problem(f"{where}.attributes", "bad_edit", BAD_DOCUMENT))
            return None
        values["attributes"] = frozenset(attrs)  # unknown names are refused by the import rules after
    return key, values


def parse_edits(text: str) -> tuple[list[tuple[SeatKey, dict[str, Any]]], list[SeatKey]]:
    """The editor's document read strictly, or ``ValidationFailed`` (``bad_edit``)."""
    problems: list[dict[str, Any]] = []
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise ValidationFailed([_problem("changes", "bad_edit", BAD_DOCUMENT)]) from None
    if not isinstance(doc, dict) or not set(doc) <= {"changes", "deleted"}:
        raise ValidationFailed([_problem("changes", "bad_edit", BAD_DOCUMENT)])
    raw_changes, raw_deleted = doc.get("changes", []), doc.get("deleted", [])
    if not isinstance(raw_changes, list) or not isinstance(raw_deleted, list):
        raise ValidationFailed([_problem("changes", "bad_edit", BAD_DOCUMENT)])
    if len(raw_changes) + len(raw_deleted) > MAX_EDITS:
        raise ValidationFailed([_problem("changes", "bad_edit", BAD_DOCUMENT)])
    changes = [c for i, raw in enumerate(raw_changes) if (c := _change(raw, f"changes[{i}]", problems))]
    deleted: list[SeatKey] = []
    for i, raw in enumerate(raw_deleted):
        key = _key(raw)
        if key is None:
            problems.append(_problem(f"deleted[{i}]", "bad_edit", BAD_DOCUMENT))
        else:
            deleted.append(key)
    if problems:
        raise ValidationFailed(problems)
    return changes, deleted


def apply_edits(seat_map: SeatMap, changes: list[tuple[SeatKey, dict[str, Any]]], deleted: list[SeatKey]) -> SeatMap:
    """The map with ``changes`` applied and ``deleted`` seats removed, seats kept in their order. A key that is
    not on the map (someone else saved meanwhile) is refused (``unknown_seat``) rather than guessed at."""
    index = {seat.key: i for i, seat in enumerate(seat_map.seats)}
    problems = [
        _problem("changes", "unknown_seat", GONE_MESSAGE, seat=list(key))
        for key in [k for k, _ in changes] + deleted
        if key not in index
    ]
    if problems:
        raise ValidationFailed(problems)
    seats: list[Seat | None] = list(seat_map.seats)
    for key, values in changes:
        old = seat_map.seats[index[key]]
        seats[index[key]] = Seat(
            section=old.section,
            row=values.get("row", old.row),
            number=values.get("number", old.number),
            x=values.get("x", old.x),
            y=values.get("y", old.y),
            zone=values.get("zone", old.zone),
            attributes=values.get("attributes", old.attributes),
            blocked_reason=values.get("blocked", old.blocked_reason),
        )
    for key in deleted:
        seats[index[key]] = None
    return SeatMap(seat_map.sections, tuple(s for s in seats if s is not None))
