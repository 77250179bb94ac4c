"""The per-process view of a session's seats (seating.live): its best-available index follows every snapshot,
whatever moved (free ↔ taken ↔ blocked), and answers like an index built afresh from the same states."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from piaowu.seating import best_available as ba
from piaowu.seating.availability import BLOCKED, FREE, TAKEN
from piaowu.seating.generate import rect_section
from piaowu.seating.layout import combine
from piaowu.seating.live import SeatRow, SessionLive, SessionSeats

MAP = combine(
    rect_section(section_id="A", label="A", rows=3, seats_per_row=8, zone="A"),
    rect_section(section_id="B", label="B", rows=2, seats_per_row=8, zone="B", origin=(0.0, 500.0)),
)
N = len(MAP.seats)


def live() -> SessionLive:
    rows = tuple(
        SeatRow(f"u{i}", i, s.section, s.row, s.number, s.x, s.y, s.zone, tuple(sorted(s.attributes)))
        for i, s in enumerate(MAP.seats)
    )
    sections = tuple(
        {"id": s.id, "label": s.label, "kind": s.kind, "best": [s.best_x, s.best_y], "seat_gap": s.seat_gap}
        for s in MAP.sections
    )
    seats = SessionSeats(
        "S", "P", ("L", 1, N, None), sections, rows, {r.unit_id: r for r in rows}, {r.key: r for r in rows}, ("A", "B")
    )
    view = SessionLive(seats)
    view.apply([FREE] * N)
    return view


def fresh(states: list[int]) -> ba.SeatIndex:
    keys = [s.key for s in MAP.seats]
    return ba.SeatIndex(
        MAP,
        taken=[k for k, s in zip(keys, states, strict=True) if s == TAKEN],
        blocked=[k for k, s in zip(keys, states, strict=True) if s == BLOCKED],
    )


REQUESTS = [ba.Request(("A",), 1), ba.Request(("A",), 3), ba.Request(("B",), 4), ba.Request(("A", "B"), 5, 0, True)]
states_st = st.lists(st.sampled_from([FREE, TAKEN, BLOCKED]), min_size=N, max_size=N)


@settings(max_examples=60, deadline=None)
@given(st.lists(states_st, min_size=1, max_size=4))
def test_the_index_follows_every_snapshot(snapshots):
    view = live()
    view.build_index()
    for states in snapshots:
        view.apply(states)
        assert list(view.states) == states
        expected = fresh(states)
        for request in REQUESTS:
            assert view.index.choose(request) == expected.choose(request)


def test_chosen_seats_are_shown_taken_until_the_next_snapshot():
    view = live()
    index = view.build_index()
    first = index.choose(ba.Request(("A",), 2))
    assert isinstance(first, ba.Allocation)
    ordinals = [view.seats.by_key[k].ordinal for k in first.seats]
    view.mark_taken(ordinals)
    second = index.choose(ba.Request(("A",), 2))
    assert isinstance(second, ba.Allocation) and not set(first.seats) & set(second.seats)
    view.apply([FREE] * N)  # the next snapshot: that order was refused after all
    assert index.choose(ba.Request(("A",), 2)) == first


def test_a_view_marked_after_seat_taken_never_offers_those_seats():
    view = live()
    index = view.build_index()
    first = index.choose(ba.Request(("A",), 3))
    assert isinstance(first, ba.Allocation)
    lost = [view.seats.by_key[k].unit_id for k in first.seats]
    view.mark_units_taken([*lost, "not-a-seat"])
    for _ in range(5):
        again = index.choose(ba.Request(("A",), 3))
        assert isinstance(again, ba.Allocation)
        assert not set(again.seats) & set(first.seats)
        view.mark_taken([view.seats.by_key[k].ordinal for k in again.seats])


def test_seats_chosen_here_stay_taken_over_a_read_made_before_their_orders_committed(monkeypatch):
    from piaowu.seating import live as live_mod

    view = live()
    index = view.build_index()
    chosen = index.choose(ba.Request(("A",), 2))
    assert isinstance(chosen, ba.Allocation)
    ordinals = [view.seats.by_key[k].ordinal for k in chosen.seats]
    view.mark_taken(ordinals)
    view.apply(view.with_marks(bytearray(N)))  # a read that shows them free: their order is still being placed
    assert all(view.states[o] == TAKEN for o in ordinals)
    again = index.choose(ba.Request(("A",), 2))
    assert isinstance(again, ba.Allocation) and not set(again.seats) & set(chosen.seats)
    # Once the mark is older than MARK_SECONDS (the order was refused), a read that shows them free frees them.
    monkeypatch.setattr(live_mod, "MARK_SECONDS", -1.0)
    view.apply(view.with_marks(bytearray(N)))
    assert all(view.states[o] == FREE for o in ordinals) and not view.marks
