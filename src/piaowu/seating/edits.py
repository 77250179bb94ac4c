"""Edits of a seat map, as the back office's map editor sends them: a list of operations applied in order.

Seats are named by their printed labels ``[section, row, number]`` (a layout's seats get new row ids on every
save, their labels do not). Operations::

    {"op": "move", "seats": [[s, r, n], …], "dx": 0, "dy": 0}       shift seats on the plan
    {"op": "place", "seat": [s, r, n], "x": 0, "y": 0}              put one seat at a point
    {"op": "relabel", "seat": [s, r, n], "section"?, "row"?, "number"?}
    {"op": "set_zone", "seats": […], "zone": "B"}
    {"op": "set_attributes", "seats": […], "attributes": ["wheelchair"]}   ([] clears them)
    {"op": "block", "seats": […], "reason": "house"}                kept back from sale by default
    {"op": "unblock", "seats": […]}
    {"op": "delete", "seats": […]}
    {"op": "delete_section", "section": "C"}                        the section and its seats

An operation naming a seat or section the map does not have (at that point of the list) is reported at
``ops.N.seats.K`` / ``ops.N.section`` with code ``unknown_seat`` / ``unknown_section``; bad labels and
attributes at their field. Every problem is reported at once and nothing is applied. The result still has to
pass the layout's checks (``layout_service.checked_map``: duplicates, overlapping coordinates, labels), the same
as an imported file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from piaowu.core.errors import ValidationFailed
from piaowu.seating.layout import ATTRIBUTES, Seat, SeatKey, SeatMap, label_problem

OPS = (
    "move",
    "place",
    "relabel",
    "set_zone",
    "set_attributes",
    "block",
    "unblock",
    "delete",
    "delete_section",
)
MAX_OPS = 1_000
UNKNOWN_SEAT = "No seat of this layout has this section, row and number."
UNKNOWN_SECTION = "This layout has no section with this id."


class _Editor:
    def __init__(self, seat_map: SeatMap) -> None:
        self.sections = list(seat_map.sections)
        self.seats: list[Seat | None] = list(seat_map.seats)
        self.index: dict[SeatKey, int] = {seat.key: i for i, seat in enumerate(seat_map.seats)}
        self.errors: list[dict[str, Any]] = []

    def error(self, field: str, code: str, message: str, **data: Any) -> None:
        self.errors.append({"field": field, "code": code, "message": message, **data})

    def find(self, at: str, keys: object) -> list[int] | None:
        """Positions of the seats named, or None (each unknown one reported)."""
        if not isinstance(keys, list) or not keys:
            self.error(f"{at}.seats", "required", "Choose at least one seat.")
            return None
        found, ok = [], True
        for k, key in enumerate(keys):
            pos = self.index.get(tuple(key)) if isinstance(key, list | tuple) and len(key) == 3 else None
            if pos is None:
                self.error(f"{at}.seats.{k}", "unknown_seat", UNKNOWN_SEAT, seat=key)
                ok = False
            else:
                found.append(pos)
        return list(dict.fromkeys(found)) if ok else None

    def one(self, at: str, key: object) -> int | None:
        pos = self.index.get(tuple(key)) if isinstance(key, list | tuple) and len(key) == 3 else None
        if pos is None:
            self.error(f"{at}.seat", "unknown_seat", UNKNOWN_SEAT, seat=key)
        return pos

    def label(self, field: str, value: object, *, required: bool = True) -> bool:
        problem = label_problem(value, required=required)
        if problem:
            self.error(field, "bad_label", problem)
        return problem is None

    def change(self, positions: Sequence[int], **changes: Any) -> None:
        for pos in positions:
            seat = self.seats[pos]
            assert seat is not None
            self.seats[pos] = dataclasses.replace(seat, **changes)

    def apply(self, i: int, op: Mapping[str, Any]) -> None:
        at = f"ops.{i}"
        kind = op.get("op")
        if kind not in OPS:
            self.error(f"{at}.op", "invalid_choice", "Choose one of the options offered.", choices=list(OPS))
            return
        if kind == "delete_section":
            section = op.get("section")
            if section not in {s.id for s in self.sections}:
                self.error(f"{at}.section", "unknown_section", UNKNOWN_SECTION, section=section)
                return
            self.sections = [s for s in self.sections if s.id != section]
            for key, pos in list(self.index.items()):
                if key[0] == section:
                    self.seats[pos] = None
                    del self.index[key]
            return
        if kind in ("place", "relabel"):
            pos = self.one(at, op.get("seat"))
            if pos is None:
                return
            seat = self.seats[pos]
            assert seat is not None
            if kind == "place":
                self.change([pos], x=float(op["x"]), y=float(op["y"]))
                return
            labels = {f: op[f] for f in ("section", "row", "number") if op.get(f) is not None}
            if not all([self.label(f"{at}.{f}", v) for f, v in labels.items()]):
                return
            if "section" in labels and labels["section"] not in {s.id for s in self.sections}:
                self.error(f"{at}.section", "unknown_section", UNKNOWN_SECTION, section=labels["section"])
                return
            new = dataclasses.replace(seat, **labels)
            if new.key != seat.key and new.key in self.index:
                message = "This section, row and seat number are already used."
                self.error(f"{at}.number", "duplicate_label", message, other={"seat": list(new.key)})
                return
            del self.index[seat.key]
            self.index[new.key] = pos
            self.seats[pos] = new
            return
        positions = self.find(at, op.get("seats"))
        if positions is None:
            return
        if kind == "move":
            for pos in positions:
                seat = self.seats[pos]
                assert seat is not None
                self.seats[pos] = dataclasses.replace(
                    seat, x=round(seat.x + float(op.get("dx", 0)), 2), y=round(seat.y + float(op.get("dy", 0)), 2)
                )
        elif kind == "set_zone":
            if self.label(f"{at}.zone", op.get("zone")):
                self.change(positions, zone=op["zone"])
        elif kind == "set_attributes":
            attributes = op.get("attributes") or []
            unknown = [a for a in attributes if a not in ATTRIBUTES]
            for a in unknown:
                message = "Use only wheelchair, companion, restricted_view and partial_view."
                self.error(f"{at}.attributes", "unknown_attribute", message, attribute=a)
            if {"wheelchair", "companion"} <= set(attributes):
                message = "A wheelchair space is not a companion seat."
                self.error(f"{at}.attributes", "conflicting_attributes", message)
            elif not unknown:
                self.change(positions, attributes=frozenset(attributes))
        elif kind == "block":
            if self.label(f"{at}.reason", op.get("reason")):
                self.change(positions, blocked_reason=op["reason"])
        elif kind == "unblock":
            self.change(positions, blocked_reason="")
        else:  # delete
            for pos in positions:
                seat = self.seats[pos]
                assert seat is not None
                del self.index[seat.key]
                self.seats[pos] = None


def apply_edits(seat_map: SeatMap, ops: Sequence[Mapping[str, Any]]) -> SeatMap:
    """The map after ``ops`` (see the module's docstring), or ``ValidationFailed`` with every problem."""
    if not ops:
        raise ValidationFailed([{"field": "ops", "code": "required", "message": "Send at least one change."}])
    if len(ops) > MAX_OPS:
        raise ValidationFailed([{"field": "ops", "code": "too_many", "message": "Send at most 1,000 changes."}])
    editor = _Editor(seat_map)
    for i, op in enumerate(ops):
        editor.apply(i, op)
    if editor.errors:
        raise ValidationFailed(editor.errors)
    return SeatMap(tuple(editor.sections), tuple(s for s in editor.seats if s is not None))
