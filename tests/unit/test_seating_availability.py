"""Seat availability snapshots and deltas (seating.availability): packing, versions, zone counts, changes."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piaowu.seating.availability import (
    BLOCKED,
    FREE,
    TAKEN,
    Snapshot,
    SnapshotRing,
    apply_changes,
    changes,
    decode,
    encode,
    pack,
    state_of,
    unpack,
    version_of,
    zone_counts,
)

states_st = st.lists(st.sampled_from([FREE, TAKEN, BLOCKED]), max_size=300)


def test_state_of_reads_bit_zero_only_and_taken_wins():
    assert state_of(0, 0) == FREE
    assert state_of(1, 0) == TAKEN
    assert state_of(0, 1) == BLOCKED
    # a one-leg unit has every blocked bit beyond leg 0 set: still free
    assert state_of(0, ~1 & (2**63 - 1)) == FREE
    assert state_of(1, 1) == TAKEN
    assert state_of(2, 0) == FREE  # a bit of another leg is not this seat's


def test_packing_is_two_bits_per_seat_lowest_first():
    packed = pack([TAKEN, FREE, BLOCKED, TAKEN, BLOCKED])
    assert packed == bytes([0b01_10_00_01, 0b10])
    assert unpack(packed, 5) == [TAKEN, FREE, BLOCKED, TAKEN, BLOCKED]
    assert encode(packed) == base64.b64encode(packed).decode()
    assert decode(encode(packed)) == packed
    with pytest.raises(ValueError):
        pack([3])
    with pytest.raises(ValueError):
        unpack(packed, 9)


def test_version_is_the_same_for_the_same_states_and_differs_otherwise():
    a, b = pack([FREE] * 8), pack([FREE] * 7 + [TAKEN])
    assert version_of(a) == version_of(pack([FREE] * 8))
    assert version_of(a) != version_of(b)
    assert version_of(pack([FREE] * 4)) != version_of(pack([FREE] * 8))  # another seat count
    assert len(version_of(a)) == 16


def test_zone_counts_count_free_and_total_per_zone_in_order():
    counts = zone_counts([FREE, TAKEN, BLOCKED, FREE, FREE], ["B", "B", "A", "A", "B"])
    assert list(counts) == ["B", "A"]
    assert counts == {"B": {"free": 2, "total": 3}, "A": {"free": 1, "total": 2}}
    with pytest.raises(ValueError):
        zone_counts([FREE], [])


def test_changes_list_only_the_seats_that_changed():
    old = pack([FREE, FREE, FREE, FREE, FREE, FREE])
    new = pack([FREE, TAKEN, FREE, FREE, FREE, BLOCKED])
    assert changes(old, new) == [[1, TAKEN], [5, BLOCKED]]
    assert changes(new, new) == []
    with pytest.raises(ValueError):
        changes(old, pack([FREE]))
    with pytest.raises(ValueError):
        apply_changes(old, [[24, FREE]])


@given(old=states_st, data=st.data())
def test_applying_the_delta_to_the_old_snapshot_gives_the_new(old, data):
    new = data.draw(st.lists(st.sampled_from([FREE, TAKEN, BLOCKED]), min_size=len(old), max_size=len(old)))
    delta = changes(pack(old), pack(new))
    assert apply_changes(pack(old), delta) == pack(new)
    assert [o for o, _ in delta] == [i for i in range(len(old)) if old[i] != new[i]]
    assert unpack(pack(new), len(new)) == new


def test_snapshot_answers_full_or_since():
    zones = ["A", "A", "B"]
    s1 = Snapshot.of([FREE, FREE, FREE], zones)
    s2 = Snapshot.of([FREE, TAKEN, FREE], zones)
    full = s2.full()
    assert full == {"version": s2.version, "states": encode(pack([FREE, TAKEN, FREE])), "zones": s2.zones}
    assert s2.zones == {"A": {"free": 1, "total": 2}, "B": {"free": 1, "total": 1}}
    delta = s2.since(s1)
    assert delta["since"] == s1.version and delta["changes"] == [[1, TAKEN]]
    assert s2.since(None) == full
    assert s2.since(Snapshot.of([FREE] * 9, ["A"] * 9)) == full  # another map


def test_ring_keeps_the_last_snapshots_only():
    ring = SnapshotRing(size=2)
    snaps = [Snapshot.of([s], ["A"]) for s in (FREE, TAKEN, BLOCKED)]
    for s in snaps:
        ring.add(s)
    assert len(ring) == 2
    assert ring.get(snaps[0].version) is None
    assert ring.get(snaps[2].version) is snaps[2]
    assert ring.get(None) is None
    ring.add(snaps[1])  # seen again: becomes the newest
    ring.add(snaps[0])
    assert ring.get(snaps[1].version) is snaps[1] and ring.get(snaps[2].version) is None
    with pytest.raises(ValueError):
        SnapshotRing(size=0)


def test_pack_is_byte_wise_and_refuses_what_is_not_a_state():
    import random

    from piaowu.seating.availability import unpack

    rng = random.Random(7)
    for n in (0, 1, 3, 4, 5, 1029):
        states = [rng.choice((FREE, TAKEN, BLOCKED)) for _ in range(n)]
        assert unpack(pack(states), n) == states
    for bad in ([FREE, -1], [FREE, FREE, 3], [256]):
        with pytest.raises(ValueError):
            pack(bad)


def test_changed_finds_every_differing_ordinal_across_chunks():
    from piaowu.seating.session_live import changed

    CHUNK = 1024  # noqa: N806 - boundaries of the chunks the earlier implementation compared
    old = [FREE] * (3 * CHUNK + 5)
    new = list(old)
    for i in (0, CHUNK - 1, CHUNK, 2 * CHUNK + 17, 3 * CHUNK + 4):
        new[i] = TAKEN
    new[5] = BLOCKED
    assert changed(old, new) == [0, 5, CHUNK - 1, CHUNK, 2 * CHUNK + 17, 3 * CHUNK + 4]
    assert changed(new, new) == []
    with pytest.raises(ValueError):
        changed(old, new[:-1])


@given(st.lists(st.tuples(st.sampled_from([FREE, TAKEN, BLOCKED]), st.sampled_from([FREE, TAKEN, BLOCKED]))))
def test_changed_lists_exactly_the_ordinals_whose_state_differs(pairs):
    """``seating.session_live.changed`` (what a read's index update walks) against a comparison seat by seat; the
    first and last seats included (the XOR of the two as integers keeps leading zero bytes)."""
    from piaowu.seating.session_live import changed

    old, new = bytearray(a for a, _ in pairs), bytearray(b for _, b in pairs)
    assert changed(old, new) == [i for i, (a, b) in enumerate(pairs) if a != b]
