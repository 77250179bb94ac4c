"""The map editor's operations (``seating.edits``), pure: applied in order, all or nothing, every problem named."""

from __future__ import annotations

import pytest

from piaowu.core.errors import ValidationFailed
from piaowu.seating.edits import apply_edits
from piaowu.seating.generate import rect_section
from piaowu.seating.layout import combine

A = rect_section(section_id="A", rows=2, seats_per_row=3, zone="A")
B = rect_section(section_id="B", rows=1, seats_per_row=2, zone="B", origin=(0.0, 1000.0))
MAP = combine(A, B)


def _seat(seat_map, key):  # noqa: ANN001, ANN202
    return next(s for s in seat_map.seats if s.key == key)


def test_operations_apply_in_order_and_keep_the_map_order():
    edited = apply_edits(
        MAP,
        [
            {"op": "relabel", "seat": ["A", "1", "3"], "number": "30"},
            {"op": "move", "seats": [["A", "1", "30"], ["A", "2", "1"]], "dx": 5, "dy": -5},
            {"op": "place", "seat": ["B", "1", "1"], "x": -300, "y": 1000},
            {"op": "set_zone", "seats": [["A", "2", "2"]], "zone": "VIP"},
            {"op": "set_attributes", "seats": [["A", "2", "3"]], "attributes": ["restricted_view"]},
            {"op": "block", "seats": [["A", "1", "1"], ["A", "1", "2"]], "reason": "press"},
            {"op": "unblock", "seats": [["A", "1", "2"]]},
            {"op": "delete", "seats": [["B", "1", "2"]]},
        ],
    )
    assert [s.key for s in edited.seats] == [
        ("A", "1", "1"),
        ("A", "1", "2"),
        ("A", "1", "30"),
        ("A", "2", "1"),
        ("A", "2", "2"),
        ("A", "2", "3"),
        ("B", "1", "1"),
    ]
    assert (_seat(edited, ("A", "1", "30")).x, _seat(edited, ("A", "1", "30")).y) == (105.0, -5.0)
    assert (_seat(edited, ("B", "1", "1")).x, _seat(edited, ("B", "1", "1")).y) == (-300.0, 1000.0)
    assert _seat(edited, ("A", "2", "2")).zone == "VIP"
    assert _seat(edited, ("A", "2", "3")).attributes == frozenset({"restricted_view"})
    assert [_seat(edited, ("A", "1", n)).blocked_reason for n in ("1", "2")] == ["press", ""]
    assert edited.sections == MAP.sections


def test_deleting_a_section_takes_its_seats():
    edited = apply_edits(MAP, [{"op": "delete_section", "section": "B"}])
    assert [s.id for s in edited.sections] == ["A"] and {s.section for s in edited.seats} == {"A"}


def test_every_problem_is_reported_and_nothing_applied():
    ops = [
        {"op": "delete", "seats": [["A", "9", "9"], ["A", "1", "1"]]},
        {"op": "relabel", "seat": ["A", "1", "1"], "number": "2"},
        {"op": "relabel", "seat": ["A", "1", "1"], "section": "Z"},
        {"op": "set_zone", "seats": [["A", "1", "1"]], "zone": "@A"},
        {"op": "set_attributes", "seats": [["A", "1", "1"]], "attributes": ["wheelchair", "companion"]},
        {"op": "set_attributes", "seats": [["A", "1", "1"]], "attributes": ["sunroof"]},
        {"op": "block", "seats": [["A", "1", "1"]], "reason": ""},
        {"op": "delete_section", "section": "Z"},
        {"op": "paint", "seats": [["A", "1", "1"]]},
    ]
    with pytest.raises(ValidationFailed) as refused:
        apply_edits(MAP, ops)
    assert [(e["field"], e["code"]) for e in refused.value.errors] == [
        ("ops.0.seats.0", "unknown_seat"),
        ("ops.1.number", "duplicate_label"),
        ("ops.2.section", "unknown_section"),
        ("ops.3.zone", "bad_label"),
        ("ops.4.attributes", "conflicting_attributes"),
        ("ops.5.attributes", "unknown_attribute"),
        ("ops.6.reason", "bad_label"),
        ("ops.7.section", "unknown_section"),
        ("ops.8.op", "invalid_choice"),
    ]


def test_a_seat_is_named_as_it_is_at_that_point_of_the_list():
    ops = [
        {"op": "relabel", "seat": ["A", "1", "1"], "row": "9"},
        {"op": "delete", "seats": [["A", "1", "1"]]},  # gone by now: it is A 9-1
    ]
    with pytest.raises(ValidationFailed) as refused:
        apply_edits(MAP, ops)
    assert refused.value.errors[0]["field"] == "ops.1.seats.0"
    assert apply_edits(MAP, ops[:1] + [{"op": "delete", "seats": [["A", "9", "1"]]}]).seats[0].key == ("A", "1", "2")


def test_an_empty_or_huge_list_is_refused():
    for ops in ([], [{"op": "unblock", "seats": [["A", "1", "1"]]}] * 1001):
        with pytest.raises(ValidationFailed):
            apply_edits(MAP, ops)
