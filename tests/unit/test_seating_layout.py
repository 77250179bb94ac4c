"""Seat maps (seating.layout): rows in seat order, adjacency across aisles and gaps, labels."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piaowu.core.errors import ValidationFailed
from piaowu.seating.generate import arc_section, rect_section
from piaowu.seating.layout import (
    Seat,
    SeatMap,
    Section,
    are_adjacent,
    combine,
    label_problem,
    natural_key,
    neighbours,
    order_row,
    rows_of,
)


def seat(number: str, x: float, y: float = 0.0, row: str = "1", **kw) -> Seat:
    return Seat("A", row, number, x, y, "A", **kw)


def test_a_row_is_ordered_along_its_direction_whatever_order_the_seats_come_in():
    seats = [seat("3", 100), seat("1", 0), seat("2", 50)]
    assert [s.number for s in order_row(seats)] == ["1", "2", "3"]
    # A vertical row (a side balcony) runs top to bottom; a slanted one left to right.
    vertical = [seat("b", 0, 60), seat("a", 0, 10), seat("c", 0, 110)]
    assert [s.number for s in order_row(vertical)] == ["a", "b", "c"]
    slanted = [seat("2", 50, -50), seat("1", 0, 0), seat("3", 100, -100)]
    assert [s.number for s in order_row(slanted)] == ["1", "2", "3"]


def test_an_arc_row_is_ordered_along_the_curve():
    section = arc_section(section_id="B", rows=2, radius=800, angle_span=150, numbering="left_to_right")
    for row in rows_of(section):
        xs = [s.x for s in row.seats]
        assert xs == sorted(xs) and all(row.adjacent)
        # Seats face the centre: numbered left to right as the audience sees it, which is +x behind the stage.
        assert [s.number for s in row.seats] == [str(i) for i in range(1, len(row.seats) + 1)]


def test_an_aisle_breaks_adjacency_and_cuts_the_row_into_blocks():
    section = rect_section(section_id="A", rows=1, seats_per_row=8, aisles_after=[3, 6])
    (row,) = rows_of(section)
    assert row.adjacent == (True, True, False, True, True, False, True)
    assert [[s.number for s in b] for b in row.blocks()] == [["1", "2", "3"], ["4", "5", "6"], ["7", "8"]]
    near = neighbours([row])
    assert near[("A", "1", "3")] == (("A", "1", "2"), None)
    assert near[("A", "1", "4")] == (None, ("A", "1", "5"))
    assert are_adjacent([row], ("A", "1", "1"), ("A", "1", "2"))
    assert not are_adjacent([row], ("A", "1", "3"), ("A", "1", "4"))
    assert not are_adjacent([row], ("A", "1", "1"), ("A", "1", "3"))


def test_a_gap_is_measured_against_the_sections_own_spacing():
    # Without a seat_gap, the typical spacing is the median of the gaps up to twice the smallest (60, 60, 80,
    # 120 → 70): 80 apart is side by side (≤ 1.5 × 70), 120 is an aisle; so are the many wide aisles below.
    seats = (seat("1", 0), seat("2", 60), seat("3", 120), seat("4", 200), seat("5", 320))
    (row,) = rows_of(SeatMap((Section("A", "A"),), seats))
    assert row.adjacent == (True, True, True, False)
    aisles = (seat("1", 0), seat("2", 50), seat("3", 200), seat("4", 350), seat("5", 500), seat("6", 550))
    (row,) = rows_of(SeatMap((Section("A", "A"),), aisles))
    assert row.adjacent == (True, False, False, False, True)
    # A section that says its gap is taken at its word.
    (row,) = rows_of(SeatMap((Section("A", "A", seat_gap=400),), seats))
    assert all(row.adjacent)


def test_rows_come_by_section_then_first_appearance():
    one = rect_section(section_id="A", rows=2, seats_per_row=2)
    two = rect_section(section_id="B", rows=2, seats_per_row=2, origin=(0, 1000))
    rows = rows_of(combine(two, one))
    assert [(r.section, r.label) for r in rows] == [("B", "1"), ("B", "2"), ("A", "1"), ("A", "2")]


def test_combining_refuses_a_section_or_a_seat_twice():
    one = rect_section(section_id="A", rows=1, seats_per_row=2)
    with pytest.raises(ValidationFailed) as refused:
        combine(one, one)
    assert {e["code"] for e in refused.value.errors} == {"duplicate_section", "duplicate_label"}


def test_labels():
    assert natural_key("2") < natural_key("10") and natural_key("A2") < natural_key("A10")
    assert label_problem("12") is None and label_problem("池座A区") is None
    for bad in ("", " 1", "1\n", "a\u202eb", "=1+1", "@SUM", "-3", "x" * 51, 12):
        assert label_problem(bad) is not None, bad
    assert label_problem("", required=False) is None


def test_attributes_and_blocks():
    wheelchair = seat("1", 0, attributes=frozenset({"wheelchair"}))
    assert wheelchair.wheelchair and wheelchair.reserved_for_access and not wheelchair.blocked
    assert seat("2", 0, blocked_reason="press").blocked


@given(st.permutations(range(12)), st.floats(-80, 80), st.floats(0.5, 3))
def test_row_order_does_not_depend_on_the_input_order(order, slope, spacing):
    """A straight row of any slope comes out in one order, left to right, whatever order it is given in."""
    seats = [seat(str(i + 1), i * 50.0 * spacing, i * slope) for i in range(12)]
    assert order_row([seats[i] for i in order]) == tuple(seats)


@given(st.integers(2, 30), st.sets(st.integers(1, 29)))
def test_blocks_are_the_row_cut_at_each_aisle(seats_per_row, aisles):
    aisles = sorted(a for a in aisles if a < seats_per_row)
    (row,) = rows_of(rect_section(section_id="A", rows=1, seats_per_row=seats_per_row, aisles_after=aisles))
    blocks = row.blocks()
    assert len(blocks) == len(aisles) + 1
    assert [s for b in blocks for s in b] == list(row.seats)
    near = neighbours([row])
    for a in row.seats:
        left, right = near[a.key]
        # Adjacency is symmetric.
        assert left is None or near[left][1] == a.key
        assert right is None or near[right][0] == a.key


def test_every_seating_message_is_translated():
    """The seating modules' messages are fixed sentences (data goes in the error's other fields), each with a
    zh-CN translation: every sentence-like string constant that is not a docstring is looked up."""
    import ast
    from pathlib import Path

    import piaowu.seating
    from piaowu.i18n import _catalog

    catalog = _catalog("zh_CN")
    found = set()
    for path in Path(piaowu.seating.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
        # OpenAPI field descriptions are documentation for integrators, not messages people are shown.
        docstrings |= {id(k.value) for k in ast.walk(tree) if isinstance(k, ast.keyword) and k.arg == "description"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                text = node.value
                if text[:1].isupper() and text.endswith(".") and len(text) > 3:
                    found.add(text)
    assert "Choose a zone or a price." in found and "Enter a label." in found  # the scan works
    assert not sorted(m for m in found if m not in catalog)
