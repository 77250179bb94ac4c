"""Best available (seating.best_available): worked examples drawn as rows, and properties against a brute force.

A house is drawn row by row, front row first, one character a seat 50 apart (rows 90 apart): ``.`` a free seat
of zone A, ``b`` a free seat of zone B, ``x`` a taken seat, ``#`` a blocked one, ``W`` a wheelchair space, ``C``
a companion seat, ``R`` a seat with a restricted view (a pillar: 柱子票), ``P`` one with a partial view of
the stage, and a space an aisle (no seat; the seats on either side are not side by side). The answer is
drawn back with ``*`` on the seats offered.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piaowu.core.errors import ValidationFailed
from piaowu.seating.best_available import (
    LIMITED_VIEW,
    Allocation,
    Refusal,
    Request,
    SeatIndex,
    best_available,
    seat_score,
)
from piaowu.seating.layout import Seat, SeatKey, SeatMap, Section, neighbours, rows_of

ATTRIBUTES = {
    "W": frozenset({"wheelchair"}),
    "C": frozenset({"companion"}),
    "R": frozenset({"restricted_view"}),
    "P": frozenset({"partial_view"}),
}


def house(*rows: str, best: tuple[float, float] = (0, 0)) -> tuple[SeatMap, set[SeatKey]]:
    seats, taken = [], set()
    for r, text in enumerate(rows):
        number = 0
        for column, char in enumerate(text):
            if char == " ":
                continue
            number += 1
            seat = Seat(
                "S",
                str(r + 1),
                str(number),
                column * 50.0,
                r * 90.0,
                "B" if char == "b" else "A",
                ATTRIBUTES.get(char, frozenset()),
                "house" if char == "#" else "",
            )
            seats.append(seat)
            if char == "x":
                taken.add(seat.key)
    return SeatMap((Section("S", "S", "rect", best[0], best[1], seat_gap=75),), tuple(seats)), taken


def drawn(rows: tuple[str, ...], seats: tuple[SeatKey, ...]) -> list[str]:
    chosen = {(int(r), int(n)) for _, r, n in seats}
    out = []
    for r, text in enumerate(rows):
        number, line = 0, ""
        for char in text:
            if char != " ":
                number += 1
                char = "*" if (r + 1, number) in chosen else char
            line += char
        out.append(line)
    return out


def pick(rows: tuple[str, ...], best: tuple[float, float], zones: str = "A", n: int = 1, **kw) -> list[str] | Refusal:
    seat_map, taken = house(*rows, best=best)
    answer = best_available(seat_map, Request(tuple(zones), n, **kw), taken=taken)
    return drawn(rows, answer.seats) if isinstance(answer, Allocation) else answer


def test_n_seats_side_by_side_around_the_best_point():
    rows = ("..........", "..........", "..........")
    assert pick(rows, best=(225, 90), n=4) == ["..........", "...****...", ".........."]
    assert pick(rows, best=(0, 180), n=3) == ["..........", "..........", "***......."]


def test_no_single_seat_is_stranded_when_it_can_be_avoided():
    # Centred on seat 4, four seats would strand seat 1 or seat 7: the block goes to a row end instead.
    # Both ends are as far from the best point; the left one comes first.
    assert pick((".......",), best=(150, 0), n=4) == ["****..."]
    # Between taken seats too: "x.....x" with 2 wanted in the middle would leave 1 and 2.
    assert pick(("x......x",), best=(175, 0), n=2) == ["x..**..x"]
    assert pick(("x.....x",), best=(150, 0), n=2) == ["x**...x"]


def test_a_stranded_seat_only_when_every_block_would_strand_one():
    seat_map, taken = house("x.....x", best=(150, 0))
    answer = best_available(seat_map, Request(("A",), 4), taken=taken)
    assert isinstance(answer, Allocation) and answer.orphans == 1
    assert drawn(("x.....x",), answer.seats) == ["x****.x"]
    # An exact fit further back beats a closer block that strands a seat.
    assert pick(("x.....x", "x....xx"), best=(150, 0), n=4) == ["x.....x", "x****xx"]


def test_never_a_taken_or_blocked_seat():
    assert pick(("#x.x#",), best=(0, 0), n=1) == ["#x*x#"]
    assert pick(("#x.x#",), best=(0, 0), n=2) == Refusal("not_enough_seats", free=1, largest_block=1)


def test_an_aisle_breaks_a_block_and_a_split_needs_consent():
    rows = ("..... .....",)
    # Both blocks are as far from the best point in the aisle; the left one comes first.
    assert pick(rows, best=(250, 0), n=5) == ["***** ....."]
    assert pick(rows, best=(250, 0), n=6) == Refusal("no_adjacent_block", free=10, largest_block=5)
    assert pick(rows, best=(250, 0), n=6, allow_split=True) == ["***** *...."]


def test_a_split_takes_the_biggest_blocks_first_across_rows():
    rows = ("xx...xxx", "xxx..xxx", "........")
    assert pick(rows, best=(175, 0), n=9) == Refusal("no_adjacent_block", free=13, largest_block=8)
    split = pick(rows, best=(175, 0), n=9, allow_split=True)
    assert split == ["xx..*xxx", "xxx..xxx", "********"]


def test_wheelchair_spaces_only_when_asked_for_and_with_their_companion():
    rows = ("WC......CW",)
    assert pick(rows, best=(225, 0), n=2) == ["WC..**..CW"]
    assert pick(rows, best=(225, 0), n=2, wheelchairs=1) == ["**......CW"]
    assert pick(rows, best=(225, 0), n=3, wheelchairs=1) == ["***.....CW"]
    # Nobody who did not ask gets them, even when nothing else is left.
    assert pick(("WCxxCW",), best=(0, 0), n=1) == Refusal("not_enough_seats", free=0, largest_block=0)
    # A wheelchair space without a companion seat next to it is not offered with an ordinary seat instead.
    assert pick(("W.x.",), best=(0, 0), n=2, wheelchairs=1) == Refusal("no_wheelchair_space", free=2, largest_block=0)
    # Split with consent: the wheelchair space and its companion, then the rest elsewhere.
    rows = ("WCx.", "....")
    assert pick(rows, best=(0, 0), n=4, wheelchairs=1) == Refusal("no_adjacent_block", free=5, largest_block=2)
    assert pick(rows, best=(0, 0), n=4, wheelchairs=1, allow_split=True) == ["**x.", "**.."]


def test_a_restricted_view_only_with_the_buyers_consent_and_when_nothing_clear_fits():
    pillar = ("..R..", "P....")
    # The best point is behind the pillar: two seats go beside it, never on it.
    assert pick(pillar, (100, 0), n=2) == ["**R..", "P...."]
    # Three: the second row has a clear block; without it only the pillar's row would do.
    assert pick(pillar, (100, 0), n=3) == ["..R..", "P***."]
    alone = ("..R..",)
    refused = pick(alone, (100, 0), n=3)
    assert isinstance(refused, Refusal) and refused.code == "restricted_view_only" and refused.free == 5
    assert pick(alone, (100, 0), n=3, allow_restricted=True) == ["***.."]
    seat_map, taken = house(*alone, best=(100, 0))
    answer = best_available(seat_map, Request(("A",), 3, allow_restricted=True), taken=taken)
    assert isinstance(answer, Allocation) and answer.limited_view == 1
    # A clear view in two blocks comes before sitting together behind the pillar.
    assert pick(alone, (100, 0), n=3, allow_split=True, allow_restricted=True) == ["**R*."]
    # The block with the fewest limited-view seats, then no stranded seat, then the closest.
    assert pick(("RR..R.",), (125, 0), n=3, allow_restricted=True) == ["RR.***"]
    # The same for a wheelchair user's party (found by the property below): the space and its companion, and a
    # clear seat in another row, before all three together with a partial view.
    accessible = (".", "WCP")
    assert pick(accessible, (0, 0), n=3, wheelchairs=1, allow_split=True, allow_restricted=True) == ["*", "**P"]
    assert pick(accessible, (0, 0), n=3, wheelchairs=1, allow_restricted=True) == [".", "***"]
    refused = pick(accessible, (0, 0), n=3, wheelchairs=1)
    assert isinstance(refused, Refusal) and refused.code == "restricted_view_only"


def test_zones_and_prices():
    rows = ("....bbbb",)
    assert pick(rows, best=(0, 0), zones="B", n=2) == ["....**bb"]
    # A price sold in two zones: the best block in either (a block stays within one zone).
    assert pick(rows, best=(350, 0), zones="AB", n=2) == ["....bb**"]
    assert pick(rows, best=(0, 0), zones="AB", n=5) == Refusal("no_adjacent_block", free=8, largest_block=4)
    assert pick(rows, best=(0, 0), zones="Z", n=1) == Refusal("not_enough_seats", free=0, largest_block=0)


def test_ties_go_to_the_earlier_row_then_further_left():
    assert pick((".....", "....."), best=(100, 45), n=1) == ["..*..", "....."]
    # Not when the earlier row's block would strand seats: "x...x" would keep 1 and 1.
    assert pick(("x...x", "....."), best=(100, 45), n=1) == ["x...x", "..*.."]
    assert pick(("..x..",), best=(100, 0), n=2) == ["**x.."]


def test_a_bad_request_is_refused_with_its_fields():
    seat_map, _ = house("....")
    for request, field in [
        (Request(("A",), 0), "quantity"),
        (Request(("A",), 101), "quantity"),
        (Request(("A",), 2, wheelchairs=3), "wheelchairs"),
        (Request((), 2), "zones"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            best_available(seat_map, request)
        assert [e["field"] for e in refused.value.errors] == [field]


def test_the_index_follows_takes_and_releases():
    seat_map, _ = house("..........", "..........", best=(225, 0))
    index = SeatIndex(seat_map)
    first = index.choose(Request(("A",), 4))
    index.take(first.seats)
    assert index.choose(Request(("A",), 4)) != first
    assert index.free_count("A") == 16
    index.release(first.seats)
    assert index.choose(Request(("A",), 4)) == first
    with pytest.raises(ValueError):
        index.release(first.seats)
    index.take(first.seats)
    with pytest.raises(ValueError):
        index.take(first.seats[:1])
    # Seats the operator holds back for the session, and releases again.
    blocked, _ = house("#..", best=(0, 0))
    index = SeatIndex(blocked)
    assert index.state(("S", "1", "1")) == "blocked"
    assert index.choose(Request(("A",), 1)).seats == (("S", "1", "2"),)
    index.block([("S", "1", "2")])
    assert index.choose(Request(("A",), 1)).seats == (("S", "1", "3"),)
    index.unblock([("S", "1", "1"), ("S", "1", "2")])
    assert index.choose(Request(("A",), 1)).seats == (("S", "1", "1"),)


def test_a_long_session_keeps_its_heaps_the_size_of_the_house(monkeypatch):
    """Stale entries are compacted away; answers stay those of a fresh index."""
    import random

    from piaowu.seating import best_available as module

    monkeypatch.setattr(module, "HEAP_SLACK", 0)
    seat_map, _ = house(*["...... ......"] * 6, best=(300, 90))
    index = SeatIndex(seat_map, group_sizes=range(1, 5))
    rng, taken = random.Random(7), set()
    keys = [s.key for s in seat_map.seats]
    for step in range(2_000):
        key = rng.choice(keys)
        if key in taken:
            index.release([key])
            taken.discard(key)
        else:
            index.take([key])
            taken.add(key)
        n = step % 4 + 1
        assert index.choose(Request(("A",), n)) == best_available(seat_map, Request(("A",), n), taken=taken)
    runs = index._runs_of_zone["A"]
    assert all(len(heap) <= 4 * runs + 13 for heap in index._heaps["A"].values())


def test_a_change_to_a_row_pushes_only_the_runs_it_made():
    """Every seat sold elsewhere moves each process's index: the row's runs the change did not touch keep their
    heap entries (a run is ``zone, first, length``); only the run the taken seat split pushes its two parts."""
    seat_map, _ = house("...... ...... ......", best=(450, 0))
    index = SeatIndex(seat_map, group_sizes=range(1, 5))
    before = {n: len(heap) for n, heap in index._heaps["A"].items()}
    index.take([("S", "1", "9")])  # the middle run of 6 becomes runs of 2 and 3
    pushed = {n: len(heap) - before[n] for n, heap in index._heaps["A"].items()}
    assert pushed == {1: 2, 2: 2, 3: 1, 4: 0}
    assert index.choose(Request(("A",), 4)) == best_available(seat_map, Request(("A",), 4), taken={("S", "1", "9")})


@given(st.lists(st.integers(0, 5000), min_size=1, max_size=40), st.data())
def test_the_best_block_of_a_run_is_the_first_smallest_of_orphans_then_cost(scores, data):
    """``_window`` (what each run's heap entry is): the smallest (orphans, cost, position) over every offset, as
    a brute force counts them."""
    from piaowu.seating.best_available import _window

    length = len(scores)
    n = data.draw(st.integers(1, length))
    start = data.draw(st.integers(0, 3))
    padded = [7] * start + scores
    brute = min(((s == 1) + (length - n - s == 1), sum(scores[s : s + n]), start + s) for s in range(length - n + 1))
    assert _window(padded, start, length, n) == brute


# ---- properties --------------------------------------------------------------------------------------------

row_texts = st.text(st.sampled_from("......xx#WCbbRP "), min_size=1, max_size=12).filter(lambda t: t.strip())


@st.composite
def houses(draw: st.DrawFn) -> tuple[SeatMap, set[SeatKey], Request]:
    rows = draw(st.lists(row_texts, min_size=1, max_size=4))
    seat_map, taken = house(*rows, best=(draw(st.floats(-100, 700)), draw(st.floats(-100, 400))))
    n = draw(st.integers(1, 6))
    request = Request(
        zones=tuple(draw(st.sets(st.sampled_from("AB"), min_size=1))),
        quantity=n,
        wheelchairs=draw(st.sampled_from([0, 0, 0, 1, 2])) if n > 1 else 0,
        allow_split=draw(st.booleans()),
        allow_restricted=draw(st.booleans()),
    )
    return seat_map, taken, request


def limited(seat: Seat) -> bool:
    return bool(LIMITED_VIEW & seat.attributes)


def usable(seat: Seat, taken: set[SeatKey], zones: tuple[str, ...]) -> bool:
    return seat.key not in taken and not seat.blocked and seat.zone in zones


def brute_force(seat_map: SeatMap, taken: set[SeatKey], zones: tuple[str, ...], n: int, *, any_view: bool = False):
    """Every block of n free ordinary seats side by side in one zone, and its (orphans, cost, row, position):
    of seats with a clear view, or (``any_view``) with any view, then keyed (limited-view seats, orphans, …)."""
    sections = {s.id: s for s in seat_map.sections}
    blocks = []
    for r, row in enumerate(rows_of(seat_map)):
        runs: list[list[int]] = []
        for pos, seat in enumerate(row.seats):
            ok = usable(seat, taken, zones) and not seat.reserved_for_access and (any_view or not limited(seat))
            joins = runs and runs[-1] and runs[-1][-1] == pos - 1 and row.adjacent[pos - 1]
            if ok and joins and row.seats[runs[-1][0]].zone == seat.zone:
                runs[-1].append(pos)
            elif ok:
                runs.append([pos])
        for run in runs:
            for s in range(len(run) - n + 1):
                orphans = (s == 1) + (len(run) - n - s == 1)
                cost = sum(seat_score(row.seats[p], sections["S"]) for p in run[s : s + n])
                keys = tuple(row.seats[p].key for p in run[s : s + n])
                if any_view:
                    views = sum(limited(row.seats[p]) for p in run[s : s + n])
                    blocks.append(((views, orphans, cost, r, run[s]), keys))
                else:
                    blocks.append(((orphans, cost, r, run[s]), keys))
    return sorted(blocks)


def side_by_side(seat_map: SeatMap, seats: tuple[SeatKey, ...]) -> bool:
    near = neighbours(rows_of(seat_map))
    return all(near[a][1] == b for a, b in zip(seats, seats[1:], strict=False))


@given(houses())
def test_never_a_taken_or_blocked_seat_and_exactly_n_or_a_refusal(case):
    seat_map, taken, request = case
    answer = best_available(seat_map, request, taken=taken)
    seats = {s.key: s for s in seat_map.seats}
    if isinstance(answer, Refusal):
        assert answer.code in {"no_adjacent_block", "not_enough_seats", "no_wheelchair_space", "restricted_view_only"}
        return
    assert len(answer.seats) == len(set(answer.seats)) == request.quantity
    for key in answer.seats:
        assert usable(seats[key], taken, request.zones)
    chosen = [seats[key] for key in answer.seats]
    if request.wheelchairs:
        assert sum(s.wheelchair for s in chosen) == request.wheelchairs
        assert sum(s.companion for s in chosen) >= min(request.wheelchairs, request.quantity - request.wheelchairs)
    else:
        assert not any(s.reserved_for_access for s in chosen)
    if answer.blocks == 1:
        assert side_by_side(seat_map, answer.seats)
    else:
        assert request.allow_split
    # A restricted or partial view only to a buyer who allowed it, and the answer says how many.
    assert answer.limited_view == sum(limited(s) for s in chosen)
    assert not answer.limited_view or request.allow_restricted


@given(houses())
def test_the_best_block_by_the_documented_order_whenever_one_exists(case):
    """Adjacency whenever a block exists; no stranded seat when avoidable; closest; ties by row and position."""
    seat_map, taken, request = case
    if request.wheelchairs:
        request = Request(request.zones, request.quantity, 0, request.allow_split, request.allow_restricted)
    answer = best_available(seat_map, request, taken=taken)
    blocks = brute_force(seat_map, taken, request.zones, request.quantity)
    if blocks:  # a clear-view block, whether or not the buyer would accept less
        (orphans, _, _, _), seats = blocks[0]
        assert answer == Allocation(seats, 1, orphans)
        return
    clear = sum(
        usable(s, taken, request.zones) and not s.reserved_for_access and not limited(s) for s in seat_map.seats
    )
    if clear >= request.quantity and request.allow_split:  # a clear view in several blocks beats sitting together
        assert isinstance(answer, Allocation) and answer.blocks > 1 and answer.limited_view == 0
        return
    wide = brute_force(seat_map, taken, request.zones, request.quantity, any_view=True)
    if wide and request.allow_restricted:  # the block with the fewest limited-view seats, then as above
        (views, orphans, _, _, _), seats = wide[0]
        assert answer == Allocation(seats, 1, orphans, views) and views > 0
    elif wide:
        assert isinstance(answer, Refusal) and answer.code == "restricted_view_only"
    elif isinstance(answer, Allocation):  # a split over seats with any view, allowed both ways
        assert request.allow_split and request.allow_restricted and answer.blocks > 1 and answer.limited_view > 0
    else:
        n, split = request.quantity, request.allow_split
        free = sum(usable(s, taken, request.zones) and not s.reserved_for_access for s in seat_map.seats)
        if request.allow_restricted:
            expected = "not_enough_seats" if free < n else "no_adjacent_block"
        elif clear < n:
            expected = "restricted_view_only" if free >= n and split else "not_enough_seats"
        else:
            expected = "no_adjacent_block"
        assert isinstance(answer, Refusal) and answer.code == expected


@given(houses())
def test_a_restricted_view_only_with_consent_and_when_no_clear_view_answer_exists(case):
    seat_map, taken, request = case
    answer = best_available(seat_map, request, taken=taken)
    if isinstance(answer, Refusal):
        if answer.code == "restricted_view_only":  # said only when allowing them would give seats
            allowed = Request(request.zones, request.quantity, request.wheelchairs, request.allow_split, True)
            assert not request.allow_restricted
            assert isinstance(best_available(seat_map, allowed, taken=taken), Allocation)
        return
    if answer.limited_view:
        assert request.allow_restricted
        clear = Request(request.zones, request.quantity, request.wheelchairs, request.allow_split, False)
        assert isinstance(best_available(seat_map, clear, taken=taken), Refusal)


@given(houses())
def test_an_accessible_block_whenever_one_exists(case):
    seat_map, taken, request = case
    if not request.wheelchairs:
        return
    n, k = request.quantity, request.wheelchairs
    exists = False
    for row in rows_of(seat_map):
        for s in range(len(row.seats) - n + 1):
            window = row.seats[s : s + n]
            exists |= (
                all(usable(seat, taken, request.zones) and seat.zone == window[0].zone for seat in window)
                and all(row.adjacent[s : s + n - 1])
                and sum(seat.wheelchair for seat in window) == k
                and sum(seat.companion for seat in window) >= min(k, n - k)
                and (request.allow_restricted or not any(limited(seat) for seat in window))
            )
    answer = best_available(seat_map, request, taken=taken)
    assert exists == (isinstance(answer, Allocation) and answer.blocks == 1)


@given(houses(), st.lists(st.tuples(st.booleans(), st.integers(0, 60)), max_size=30))
def test_an_index_kept_current_answers_like_a_fresh_one(case, changes):
    """Deterministic: whatever happened before, the same seats and states give the same answer."""
    seat_map, taken, request = case
    index = SeatIndex(seat_map, taken=taken, group_sizes=[1, 2])
    index.choose(request)
    keys = [s.key for s in seat_map.seats if not s.blocked]
    now = set(taken)
    for take, at in changes:
        key = keys[at % len(keys)] if keys else None
        if key is None:
            break
        if take and key not in now:
            index.take([key])
            now.add(key)
        elif not take and key in now:
            index.release([key])
            now.discard(key)
        index.choose(request)
    assert index.choose(request) == best_available(seat_map, request, taken=now)
    assert index.choose(request) == index.choose(request)
