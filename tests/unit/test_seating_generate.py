"""Generated sections (seating.generate): rectangles and arcs from parameters, numbering, row labels, limits."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piaowu.core.errors import ValidationFailed
from piaowu.seating.generate import (
    MAX_SEATS_PER_SECTION,
    ROW_LETTERS,
    arc_seat_counts,
    arc_section,
    rect_section,
    row_label,
    seat_numbers,
)
from piaowu.seating.layout import rows_of


def codes(refused: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {e["field"]: e["code"] for e in refused.value.errors}


def test_odd_and_even_from_the_centre_as_chinese_theatres_number():
    # Seat 1 in the middle, odd numbers to the audience's right, even to its left.
    assert seat_numbers(5, "odd_even") == ["4", "2", "1", "3", "5"]
    assert seat_numbers(4, "odd_even") == ["4", "2", "1", "3"]
    assert seat_numbers(1, "odd_even") == ["1"]
    assert seat_numbers(3, "left_to_right") == ["1", "2", "3"]


def test_row_letters_skip_i_and_o():
    assert "I" not in ROW_LETTERS and "O" not in ROW_LETTERS and len(ROW_LETTERS) == 24
    assert [row_label(i, "letters") for i in range(1, 11)] == list("ABCDEFGHJK")
    assert row_label(14, "letters") == "P"  # after N, not O
    assert (row_label(24, "letters"), row_label(25, "letters"), row_label(49, "letters")) == ("Z", "AA", "BA")
    assert row_label(7, "numbers") == "7"


def test_a_rectangular_section():
    section = rect_section(
        section_id="A", label="池座", rows=3, seats_per_row=4, row_labels="letters", seat_spacing=50, row_spacing=90
    )
    assert section.sections[0].label == "池座" and section.sections[0].kind == "rect"
    assert [(s.row, s.number, s.x, s.y) for s in section.seats[:5]] == [
        ("A", "1", 0, 0),
        ("A", "2", 50, 0),
        ("A", "3", 100, 0),
        ("A", "4", 150, 0),
        ("B", "1", 0, 90),
    ]
    # The best point: the middle of the row a third of the way back.
    assert (section.sections[0].best_x, section.sections[0].best_y) == (75, 90)
    wide = rect_section(section_id="A", rows=1, seats_per_row=4, aisles_after=[2], aisle_width=100)
    assert [s.x for s in wide.seats] == [0, 50, 200, 250]


def test_an_arc_section_grows_outward():
    section = arc_section(section_id="S1", rows=3, radius=1000, angle_span=30, centre=(0, -500))
    counts = [len(r.seats) for r in rows_of(section)]
    assert counts == arc_seat_counts(3, 1000, 90, 50, 30) == [11, 12, 13]
    for i, row in enumerate(rows_of(section)):
        for s in row.seats:
            assert math.hypot(s.x, s.y + 500) == pytest.approx(1000 + 90 * i, abs=0.02)
    assert section.sections[0].kind == "arc"


def test_every_bad_field_is_reported_at_once():
    with pytest.raises(ValidationFailed) as refused:
        rect_section(section_id="", rows=0, seats_per_row=10, seat_spacing=0, numbering="zigzag", row_labels="roman")
    assert codes(refused) == {
        "section_id": "invalid_label",
        "rows": "out_of_range",
        "seat_spacing": "out_of_range",
        "numbering": "invalid_choice",
        "row_labels": "invalid_choice",
    }
    with pytest.raises(ValidationFailed) as refused:
        arc_section(section_id="S", rows=3, radius=float("nan"), angle_span=200, direction=True)
    assert codes(refused) == {"radius": "not_finite", "angle_span": "out_of_range", "direction": "not_finite"}
    with pytest.raises(ValidationFailed) as refused:
        rect_section(section_id="A", rows=2, seats_per_row=5, aisles_after=[5])
    assert codes(refused) == {"aisles_after": "out_of_range"}


def test_a_section_holds_at_most_20000_seats():
    assert len(rect_section(section_id="A", rows=200, seats_per_row=100).seats) == MAX_SEATS_PER_SECTION
    with pytest.raises(ValidationFailed) as refused:
        rect_section(section_id="A", rows=201, seats_per_row=100)
    assert codes(refused) == {"rows": "too_many_seats"}
    with pytest.raises(ValidationFailed) as refused:
        arc_section(section_id="A", rows=500, radius=50_000, angle_span=180, seat_spacing=50)
    assert "too_many_seats" in codes(refused).values()


@given(
    st.integers(1, 30),
    st.integers(1, 40),
    st.sampled_from(["left_to_right", "odd_even"]),
    st.sampled_from(["numbers", "letters"]),
)
def test_a_rectangle_has_every_seat_once(rows, per_row, numbering, labels):
    section = rect_section(section_id="A", rows=rows, seats_per_row=per_row, numbering=numbering, row_labels=labels)
    assert len({s.key for s in section.seats}) == rows * per_row
    for row in rows_of(section):
        assert sorted(int(s.number) for s in row.seats) == list(range(1, per_row + 1))
        assert all(row.adjacent)
        if numbering == "odd_even":
            odd = [int(s.number) for s in row.seats if int(s.number) % 2]
            even = [int(s.number) for s in row.seats if not int(s.number) % 2]
            assert odd == sorted(odd) and even == sorted(even, reverse=True)  # both grow away from the centre


@given(st.integers(1, 20), st.floats(300, 5000), st.floats(5, 180), st.floats(-360, 360))
def test_an_arc_has_unique_labels_and_rows_never_shrink(rows, radius, span, direction):
    section = arc_section(section_id="S", rows=rows, radius=radius, angle_span=span, direction=direction)
    assert len({s.key for s in section.seats}) == len(section.seats)
    counts = [len(r.seats) for r in rows_of(section)]
    assert counts == sorted(counts) and len(counts) == rows
    for row in rows_of(section):
        assert all(row.adjacent)  # seats 50 apart along the arc, nothing cut
