"""The per-process view of a session's seats (seating.live): its best-available index follows every snapshot,
whatever moved (free ↔ taken ↔ blocked), and answers like an index built afresh from the same states; a sales
channel with seats withheld from it has an index of its own that answers as the plain index with those seats
taken out for the choice (the path it replaces) and never offers one of them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from piaowu.core import channels
from piaowu.seating import best_available as ba
from piaowu.seating.availability import BLOCKED, FREE, TAKEN
from piaowu.seating.generate import rect_section
from piaowu.seating.layout import combine
from piaowu.seating.session_live import SeatRow, SessionLive, SessionSeats

MAP = combine(
    rect_section(section_id="A", label="A", rows=3, seats_per_row=8, zone="A"),
    rect_section(section_id="B", label="B", rows=2, seats_per_row=8, zone="B", origin=(0.0, 500.0)),
)
N = len(MAP.seats)


def live(withheld: list[int] | None = None) -> SessionLive:
    masks = withheld or [0] * N
    rows = tuple(
        SeatRow(f"u{i}", i, s.section, s.row, s.number, s.x, s.y, s.zone, tuple(sorted(s.attributes)), masks[i])
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
    from piaowu.seating import session_live as live_mod

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


WEB, BOX, API = (channels.bit(c) for c in channels.CHANNELS)
withheld_st = st.lists(st.sampled_from([0, 0, 0, WEB, API, WEB | API]), min_size=N, max_size=N)


def plain_choice(view: SessionLive, request: ba.Request, channel_bit: int) -> ba.Allocation | ba.Refusal:
    """The path the channel's index replaces: the seats withheld from the channel taken out of the plain index
    for the one choice, then given back."""
    index = view.build_index()
    keys = [view.seats.seats[o].key for o in view.seats.withheld_ordinals(channel_bit)]
    hidden = [k for k in keys if index.state(k) == ba.FREE]
    index.take(hidden)
    try:
        return index.choose(request)
    finally:
        index.release(hidden)


@settings(max_examples=60, deadline=None)
@given(withheld_st, st.lists(st.tuples(states_st, st.lists(st.integers(0, N - 1), max_size=4)), min_size=1, max_size=4))
def test_a_channel_index_answers_as_the_plain_index_with_the_withheld_seats_taken_out(withheld, steps):
    view = live(withheld)
    for states, chosen_here in steps:
        view.apply(states)  # a snapshot: every index built so far follows it
        view.mark_taken(chosen_here)  # seats this process just chose: taken in every index
        for request in REQUESTS:
            for bit in (WEB, BOX, API):
                answer = view.choose(request, channel_bit=bit)
                assert answer == plain_choice(view, request, bit)
                if isinstance(answer, ba.Allocation):
                    assert not any(withheld[view.seats.by_key[k].ordinal] & bit for k in answer.seats)
                    assert all(view.states[view.seats.by_key[k].ordinal] == FREE for k in answer.seats)
    # One index per channel with seats withheld from it, none for a channel without (the plain one serves it).
    assert set(view.channel_indexes) == {b for b in (WEB, API) if any(m & b for m in withheld)}


def test_the_web_index_keeps_its_withheld_row_blocked_whatever_the_reads_say():
    # Row 2 of section A is its best (closest to the section's best point): kept for the box office.
    row2 = [s.ordinal for s in live().seats.seats if (s.section, s.row) == ("A", "2")]
    view = live([WEB if o in row2 else 0 for o in range(N)])
    web = view.build_index(channel_bit=WEB)
    assert web is view.build_index(channel_bit=WEB) and view.index is None  # built once; the plain one not yet
    assert view.build_index(channel_bit=BOX) is view.index  # nothing withheld from the box office
    first = view.choose(ba.Request(("A",), 8), channel_bit=WEB)
    assert isinstance(first, ba.Allocation) and len({k[1] for k in first.seats} - {"1", "3"}) == 0
    box = view.choose(ba.Request(("A",), 8), channel_bit=BOX)
    assert isinstance(box, ba.Allocation) and {k[1] for k in box.seats} == {"2"}
    view.mark_taken([view.seats.by_key[k].ordinal for k in first.seats])  # the web order's seats, in both
    again = view.choose(ba.Request(("A",), 8), channel_bit=WEB)
    assert isinstance(again, ba.Allocation) and {k[1] for k in first.seats + again.seats} == {"1", "3"}
    assert view.choose(ba.Request(("A",), 8), channel_bit=BOX) == box
    # Reads in which row 2 was sold, then given back: still not the web's.
    states = list(view.states)
    view.apply([TAKEN if o in row2 else st_ for o, st_ in enumerate(states)])
    view.apply(states)
    assert all(web.state(view.seats.seats[o].key) == ba.BLOCKED for o in row2)
    view.mark_taken([view.seats.by_key[k].ordinal for k in again.seats])
    refused = view.choose(ba.Request(("A",), 1), channel_bit=WEB)
    assert isinstance(refused, ba.Refusal) and refused.code == "not_enough_seats"
    assert view.choose(ba.Request(("A",), 8), channel_bit=BOX) == box


class _NoConnection:
    """A unit of work's session that must not be asked for a connection (so it never begins)."""

    def __init__(self) -> None:
        self.asked = 0

    async def connection(self) -> None:
        self.asked += 1
        raise AssertionError("a read was not needed: no connection either")


async def test_a_view_young_enough_is_taken_without_a_connection():
    """Best available takes the refresher's view on every order: when it is young enough (or its read began
    after the moment asked for), ``refresh`` answers with it before taking a connection, so the order's unit of
    work never begins on the session (its one statement then runs on the driver's own connection)."""
    import time
    from types import SimpleNamespace

    from piaowu.seating.availability import Snapshot
    from piaowu.seating.live import LiveSeats

    view = live()
    view.snapshot, view.read_at = Snapshot.of(bytearray(N), view.seats.zone_of), time.monotonic()
    session = _NoConnection()
    uow = SimpleNamespace(session=session)
    registry = LiveSeats()
    assert await registry.refresh(uow, "O", view, max_age=1.0) is view.snapshot
    assert await registry.refresh(uow, "O", view, began_after=view.read_at - 0.5) is view.snapshot
    assert session.asked == 0
    # Too old, or read before the moment asked for: a read, which takes the connection first.
    for kwargs in ({"max_age": 0.0}, {"began_after": view.read_at + 0.5}):
        try:
            await registry.refresh(uow, "O", view, **kwargs)
        except AssertionError:
            pass
    assert session.asked == 2
