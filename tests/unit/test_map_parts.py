"""The seat map cut into parts (seating/map_parts.py, pure): runs, the pitch, outlines, a section's columns, and
keys that follow the seats' content."""

from __future__ import annotations

import dataclasses

import orjson
from hypothesis import given
from hypothesis import strategies as st

from piaowu.seating import map_parts
from piaowu.seating.map_parts import DEFAULT_PITCH, convex_hull, ordinal_runs, outline, parts_of, pitch_of, runs
from piaowu.seating.session_live import SeatRow


def row_of(section: str, row: str, n: int, *, y: float, first: int, x0: float = 0.0, zone: str = "A") -> list[SeatRow]:
    return [
        SeatRow(f"id-{section}-{row}-{k}", first + k, section, row, str(k + 1), x0 + 50.0 * k, y, zone, ())
        for k in range(n)
    ]


def test_runs_and_ordinal_runs() -> None:
    assert runs(["1", "1", "2", "1"]) == [["1", 2], ["2", 1], ["1", 1]]
    assert runs([]) == []
    assert ordinal_runs([4, 5, 6, 9, 10, 2]) == [[4, 3], [9, 2], [2, 1]]


@given(st.lists(st.integers(min_value=0, max_value=50), max_size=60))
def test_ordinal_runs_give_the_ordinals_back(values: list[int]) -> None:
    assert [first + k for first, n in ordinal_runs(values) for k in range(n)] == values


def test_the_pitch_is_the_median_gap_within_rows() -> None:
    seats = row_of("A", "1", 5, y=0, first=0) + row_of("A", "2", 5, y=90, first=5, x0=1000)
    assert pitch_of(seats) == 50  # the jump from row 1's end to row 2's start is not a gap
    assert pitch_of(row_of("A", "1", 1, y=0, first=0)) == DEFAULT_PITCH


def test_the_hull_and_an_outline_around_every_seat() -> None:
    pts = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0), (5.0, 5.0), (5.0, 0.0)]
    assert sorted(convex_hull(pts)) == [(0.0, 0.0), (0.0, 10.0), (10.0, 0.0), (10.0, 10.0)]
    ring = outline(pts, 2.0)
    assert len(ring) == 4 and all(abs(x - 5) > 5 and abs(y - 5) > 5 for x, y in ring)
    # A single straight row (a degenerate hull) still gets an area around it.
    line = outline([(0.0, 0.0), (50.0, 0.0), (100.0, 0.0)], 20.0)
    assert len(line) == 4 and min(y for _, y in line) < 0 < max(y for _, y in line)


def test_a_sections_answer_is_columns_in_seat_order() -> None:
    seats = row_of("A", "1", 3, y=0, first=0) + row_of("B", "1", 2, y=300, first=3, zone="B")
    seats[1] = dataclasses.replace(seats[1], attributes=("companion",), x=50.04)
    seats += row_of("A", "2", 2, y=90, first=5, zone="A2")  # A's seats again, after B's
    parts = parts_of([{"id": "A", "label": "池座", "best": [50, 0]}, {"id": "B"}, {"id": "empty"}], seats)
    assert [p.summary["id"] for p in parts.sections] == ["A", "B"]  # a section without seats is left out
    a = parts.sections[0]
    assert a.summary["ordinals"] == [[0, 3], [5, 2]] and a.summary["zones"] == [["A", 3], ["A2", 2]]
    assert (a.summary["label"], a.summary["kind"], a.summary["best_x"]) == ("池座", "rect", 50)
    assert a.summary["attributes"] == 0b10  # the companion seat's bit
    assert a.summary["bbox"] == [0, 0, 100, 90] and parts.bounds == (0, 0, 100, 300)
    body = orjson.loads(a.body)
    assert body == {
        "section": "A",
        "count": 5,
        "ordinals": [[0, 3], [5, 2]],
        "ids": ["id-A-1-0", "id-A-1-1", "id-A-1-2", "id-A-2-0", "id-A-2-1"],
        "rows": [["1", 3], ["2", 2]],
        "numbers": ["1", "2", "3", "1", "2"],
        "x": [0, 50, 100, 0, 50],  # to 0.1 map units
        "y": [0, 0, 0, 90, 90],
        "zones": [["A", 3], ["A2", 2]],
        "attributes": [[1, 0b10]],
    }
    assert parts.sections[1].summary["label"] == "B" and parts.by_key[a.key] is a


def test_a_key_follows_the_sections_content_and_nothing_else() -> None:
    a, b = row_of("A", "1", 3, y=0, first=0), row_of("B", "1", 3, y=300, first=3)
    before = parts_of([{"id": "A"}, {"id": "B"}], a + b)
    same = parts_of([{"id": "A"}, {"id": "B"}], a + b)
    assert [p.key for p in before.sections] == [p.key for p in same.sections]
    # B first: A's ordinals move, so its key changes; a relabelled seat or another id changes its section's key.
    moved = parts_of(
        [{"id": "B"}, {"id": "A"}],
        [dataclasses.replace(s, ordinal=s.ordinal - 3) for s in b]
        + [dataclasses.replace(s, ordinal=s.ordinal + 3) for s in a],
    )
    assert {p.summary["id"]: p.key for p in moved.sections}["A"] != before.sections[0].key
    renamed = parts_of([{"id": "A"}, {"id": "B"}], [dataclasses.replace(a[0], number="9"), *a[1:], *b])
    assert renamed.sections[0].key != before.sections[0].key and renamed.sections[1].key == before.sections[1].key
    new_ids = parts_of([{"id": "A"}, {"id": "B"}], [dataclasses.replace(a[0], unit_id="other"), *a[1:], *b])
    assert new_ids.sections[0].key != before.sections[0].key


def test_parts_kept_on_disk_read_back_equal_and_a_damaged_file_is_not_read(tmp_path) -> None:
    seats = row_of("A", "1", 3, y=0, first=0) + row_of("B", "1", 2, y=300, first=3, zone="B")
    parts = parts_of([{"id": "A", "label": "池座"}, {"id": "B"}], seats)
    path = map_parts.parts_file(tmp_path, "S1", ("L", 1, 5, None, 0))
    assert map_parts.load(path) is None  # nothing kept yet
    map_parts.store(path, parts)
    assert map_parts.load(path) == parts
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # written aside, then renamed: no leftover
    # Another seating of the session (another stamp), another file.
    assert map_parts.parts_file(tmp_path, "S1", ("L", 2, 5, None, 0)) != path
    data = path.read_bytes()
    path.write_bytes(data[:-1] + b"]")  # a section's answer changed: its hash no longer matches its key
    assert map_parts.load(path) is None
    path.write_bytes(data[: len(data) // 2])  # cut short
    assert map_parts.load(path) is None
    path.write_bytes(b"not json\n")
    assert map_parts.load(path) is None


def test_session_seats_cut_their_parts_once_for_every_process_of_the_host(tmp_path, monkeypatch) -> None:
    from piaowu.seating import session_live

    seats = tuple(row_of("A", "1", 4, y=0, first=0))
    path = map_parts.parts_file(tmp_path, "S1", ("L", 1, 4, None, 0))

    def session_seats() -> session_live.SessionSeats:  # a process's own SessionSeats of the same seating
        return session_live.SessionSeats(
            "S1", "P", ("L", 1, 4, None, 0), ({"id": "A"},), seats, {}, {}, ("A",), parts_path=path
        )

    cuts = []
    monkeypatch.setattr(session_live, "parts_of", lambda *a: cuts.append(1) or parts_of(*a))
    first = session_seats().parts
    second = session_seats().parts  # another process: reads what the first kept
    assert first == second and len(cuts) == 1
    path.write_bytes(b"damaged\n")
    assert session_seats().parts == first and len(cuts) == 2  # cut again, and kept again
    assert map_parts.load(path) == first
