"""Seat maps in and out (seating.interchange): JSON v1 and CSV, checked whole, errors line by line."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piaowu.core.errors import ValidationFailed
from piaowu.seating.generate import arc_section, rect_section
from piaowu.seating.interchange import (
    MAX_ERRORS,
    export_csv,
    export_json,
    import_csv,
    import_json,
)
from piaowu.seating.layout import ATTRIBUTES, Seat, SeatMap, Section, combine

HEADER = "section,row,number,x,y,zone,attributes\n"


def refusal(call, *args, **kw) -> list[tuple]:
    with pytest.raises(ValidationFailed) as refused:
        call(*args, **kw)
    return [(e.get("line"), e["field"], e["code"]) for e in refused.value.errors]


def test_the_documented_json_example_imports():
    document = {
        "version": 1,
        "sections": [{"id": "A", "label": "一楼池座A区", "kind": "rect", "best": [450, 270], "seat_gap": 75}],
        "seats": [
            {"section": "A", "row": "1", "number": "1", "x": 0, "y": 0, "zone": "VIP", "attributes": ["wheelchair"]},
            {"section": "A", "row": "1", "number": "2", "x": 50, "y": 0, "zone": "VIP", "blocked": "press"},
        ],
    }
    seat_map = import_json(json.dumps(document), zones={"VIP"})
    assert seat_map.sections == (Section("A", "一楼池座A区", "rect", 450.0, 270.0, 75.0),)
    assert seat_map.seats[0] == Seat("A", "1", "1", 0.0, 0.0, "VIP", frozenset({"wheelchair"}))
    assert seat_map.seats[1].blocked and seat_map.seats[1].blocked_reason == "press"
    assert json.loads(export_json(seat_map)) == document


def test_the_documented_csv_example_imports_with_derived_sections():
    text = "\ufeff" + HEADER + "A,1,1,0,0,VIP,wheelchair;restricted_view\nA,1,2,50,0,VIP,\nA,2,1,0,90,VIP,\n"
    seat_map = import_csv(text.encode())
    assert seat_map.seats[0].attributes == {"wheelchair", "restricted_view"}
    assert seat_map.sections == (Section("A", "A", "rect", 25.0, 30.0),)
    assert export_csv(seat_map).splitlines()[1] == "A,1,1,0,0,VIP,restricted_view;wheelchair"
    with_blocks = import_csv(HEADER.strip() + ",blocked\nA,1,1,0,0,VIP,,house\n")
    assert with_blocks.seats[0].blocked_reason == "house"
    assert export_csv(with_blocks).splitlines()[0].endswith(",blocked")


def test_every_bad_line_is_reported_with_its_line_field_and_code():
    text = HEADER + (
        "A,1,1,0,0,A,\n"  # 2: fine
        "A,1,1,500,0,A,\n"  # 3: the same label again
        "A,1,2,10,0,A,\n"  # 4: 10 from seat 1
        "A,1,3,100,0,Z,\n"  # 5: unknown zone
        "A,1,4,abc,0,A,\n"  # 6: x is no number
        "A,1,5,200,inf,A,\n"  # 7: y is no finite number
        "A,1,6,300,0,A,wheelchair;pillar\n"  # 8: unknown attribute
        "A,1,7,400,0,A,wheelchair;companion\n"  # 9: both at once
        "A,,8,600,0,A,\n"  # 10: no row
        "A,1,9,700,0\n"  # 11: too few columns
        "\n"  # a blank line is skipped
        "A,1,=cmd(),800,0,A,\n"  # 13: a formula
    )
    assert refusal(import_csv, text, zones={"A", "B"}) == [
        (3, "number", "duplicate_label"),
        (4, "x", "overlapping_coordinates"),
        (5, "zone", "unknown_zone"),
        (6, "x", "bad_number"),
        (7, "y", "bad_number"),
        (8, "attributes", "unknown_attribute"),
        (9, "attributes", "conflicting_attributes"),
        (10, "row", "bad_label"),
        (11, "", "bad_columns"),
        (13, "number", "bad_label"),
    ]


def test_seats_of_an_unknown_section_and_file_level_problems():
    sections = (Section("A", "A"),)
    assert refusal(import_csv, HEADER + "B,1,1,0,0,A,\n", sections=sections) == [(2, "section", "unknown_section")]
    assert refusal(import_csv, "section;row;number\n") == [(1, "", "bad_header")]
    assert refusal(import_csv, HEADER) == [(None, "seats", "no_seats")]
    assert refusal(import_csv, b"\xff\xfe") == [(None, "", "bad_encoding")]
    assert refusal(import_json, '{"version": 1,') == [(1, "", "bad_json")]
    text_x = {"section": "A", "row": "1", "number": "1", "x": "12", "y": 0, "zone": "A"}  # in JSON, "12" is text
    document = {"version": 1, "sections": [{"id": "A", "best": [0, 0]}], "seats": [text_x]}
    assert refusal(import_json, json.dumps(document)) == [(None, "seats[0].x", "bad_number")]
    assert refusal(import_json, '{"version": 2, "sections": [], "seats": []}') == [
        (None, "version", "unsupported_version")
    ]


def test_json_problems_name_their_place_in_the_document():
    document = {
        "version": 1,
        "extra": True,
        "sections": [
            {"id": "A", "kind": "rect", "best": [0, 0]},
            {"id": "A", "kind": "rect", "best": [0, 0]},
            {"id": "B", "kind": "round", "best": [0]},
        ],
        "seats": [
            {"section": "A", "row": "1", "number": "1", "x": 0, "y": 0, "zone": "A", "colour": "red"},
            {"section": "C", "row": "1", "number": "2", "x": 100, "y": 0, "zone": "A"},
            {"section": "A", "row": "1", "number": "3", "x": True, "zone": "A", "attributes": "wheelchair"},
            {"section": "A", "row": "1", "number": "4", "x": 300, "y": 0, "zone": "A", "attributes": ["vip"]},
        ],
    }
    assert refusal(import_json, json.dumps(document)) == [
        (None, "extra", "unknown_field"),
        (None, "sections[1].id", "duplicate_section"),
        (None, "sections[2].kind", "bad_kind"),
        (None, "sections[2].best", "bad_number"),
        (None, "seats[0].colour", "unknown_field"),
        (None, "seats[2].attributes", "unknown_attribute"),
        (None, "seats[3].attributes", "unknown_attribute"),
        (None, "seats[1].section", "unknown_section"),
    ]


def test_a_section_holds_at_most_20000_seats():
    text = HEADER + "".join(f"A,{r},{n},{n * 50},{r * 90},A,\n" for r in range(201) for n in range(100))
    assert refusal(import_csv, text) == [(20_002, "section", "too_many_seats")]


def test_a_file_full_of_errors_stops_at_the_cap():
    text = HEADER + "".join(f"A,1,{i},{i * 100},0,Z,\n" for i in range(1, MAX_ERRORS + 50))
    errors = refusal(import_csv, text, zones={"A"})
    assert len(errors) == MAX_ERRORS + 1 and errors[-1][2] == "too_many_errors"


def test_overlaps_are_found_without_comparing_every_pair():
    # 40,000 seats on a 50-unit grid import (no pair is closer than 20); one seat moved onto another is caught.
    seats = [Seat("AB"[r // 100], str(r), str(n), n * 50.0, r * 90.0, "A") for r in range(200) for n in range(200)]
    seat_map = SeatMap((Section("A", "A"), Section("B", "B")), tuple(seats))
    assert import_csv(export_csv(seat_map), sections=seat_map.sections) == seat_map
    moved = seats[:-1] + [Seat("B", "199", "199", 9_900.0 + 5, 17_910.0 - 5, "A")]
    text = export_csv(SeatMap(seat_map.sections, tuple(moved)))
    assert refusal(import_csv, text) == [(len(seats) + 1, "x", "overlapping_coordinates")]


labels = st.text(st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=6)


@st.composite
def seat_maps(draw: st.DrawFn) -> SeatMap:
    """Maps with odd labels, attributes, blocked seats and coordinates on a grid (never overlapping)."""
    section_ids = draw(st.lists(labels, min_size=1, max_size=3, unique=True))
    sections = tuple(
        Section(sid, draw(labels), draw(st.sampled_from(["rect", "arc"])), draw(st.floats(-1e4, 1e4)), 0.5)
        for sid in section_ids
    )
    cells = draw(st.lists(st.tuples(st.integers(-50, 50), st.integers(-50, 50)), min_size=1, max_size=40, unique=True))
    seats = []
    for i, (cx, cy) in enumerate(cells):
        attributes = draw(st.sets(st.sampled_from(ATTRIBUTES))) - {"companion"}
        seats.append(
            Seat(
                section=draw(st.sampled_from(section_ids)),
                row=draw(labels),
                number=f"{i}{draw(labels)}",
                x=cx * 33.3 + draw(st.floats(0, 5)),
                y=cy * 41.7 + draw(st.floats(0, 5)),
                zone=draw(st.sampled_from(["A", "B", "池"])),
                attributes=frozenset(attributes),
                blocked_reason=draw(st.sampled_from(["", "house", "技术"])),
            )
        )
    return SeatMap(sections, tuple(seats))


@given(seat_maps())
def test_export_then_import_gives_the_same_map(seat_map):
    assert import_json(export_json(seat_map)) == seat_map
    assert import_csv(export_csv(seat_map), sections=seat_map.sections) == seat_map


@given(seat_maps(), st.data())
def test_one_bad_line_refuses_the_whole_file(seat_map, data):
    lines = export_csv(seat_map).splitlines()
    at = data.draw(st.integers(1, len(lines)))
    blocked = "," if lines[0].endswith(",blocked") else ""
    unknown = "X"
    while unknown in {s.id for s in seat_map.sections}:  # the drawn map may well have a section "X"
        unknown += "X"
    lines.insert(at, f"{unknown},1,1,1e99,0,A," + blocked)  # an unknown section and a coordinate out of range
    errors = refusal(import_csv, "\n".join(lines), sections=seat_map.sections)
    assert (at + 1, "section", "unknown_section") in errors and (at + 1, "x", "bad_number") in errors


def test_generated_sections_round_trip():
    seat_map = combine(
        rect_section(section_id="A", rows=5, seats_per_row=12, numbering="odd_even", aisles_after=[6]),
        arc_section(section_id="B", rows=4, radius=2000, angle_span=40, centre=(0, -3000), row_labels="letters"),
    )
    assert import_json(export_json(seat_map)) == seat_map
    assert import_csv(export_csv(seat_map), sections=seat_map.sections) == seat_map


def test_an_error_names_the_seat_it_clashes_with_and_keeps_its_message_fixed():
    text = HEADER + "A,1,1,0,0,A,\nA,1,1,5,0,Z,pillar\n"
    with pytest.raises(ValidationFailed) as refused:
        import_csv(text, zones={"A"})
    by_code = {e["code"]: e for e in refused.value.errors}
    assert by_code["duplicate_label"]["other"] == {"seat": ["A", "1", "1"], "line": 2}
    assert by_code["overlapping_coordinates"]["other"] == {"seat": ["A", "1", "1"], "line": 2}
    assert by_code["unknown_zone"]["zone"] == "Z" and by_code["unknown_attribute"]["attribute"] == "pillar"
    # The sentence does not carry the data, so it translates (seating.po).
    assert by_code["unknown_zone"]["message"] == "This zone is not one of the layout's zones."
