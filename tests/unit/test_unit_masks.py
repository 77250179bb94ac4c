"""Masks of units with identity (inventory.rules): legs ↔ masks, journeys, overlap, claims."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piaowu.core.errors import ValidationFailed
from piaowu.inventory.rules import (
    FULL_MASK,
    MAX_LEGS,
    Claim,
    beyond_legs,
    check_legs,
    check_mask,
    free_on,
    legs_of,
    mask_of,
    merge_masks,
    occupy,
    overlaps,
    plan_claims,
    span_mask,
    unit_mask,
    vacate,
)

legs = st.sets(st.integers(0, MAX_LEGS - 1))
masks = st.integers(0, FULL_MASK)


@st.composite
def journeys(draw: st.DrawFn, stops: int = MAX_LEGS + 1) -> tuple[int, int]:
    origin = draw(st.integers(0, stops - 2))
    return origin, draw(st.integers(origin + 1, stops - 1))


def test_a_journey_occupies_the_legs_between_its_stops():
    assert span_mask(0, 1) == 0b1
    assert span_mask(1, 3) == 0b110
    assert legs_of(span_mask(2, 5)) == [2, 3, 4]
    assert not overlaps(span_mask(0, 1), span_mask(1, 2))  # A→B and B→C can share a seat
    assert overlaps(span_mask(0, 2), span_mask(1, 3))
    for bad in [(1, 1), (2, 1), (-1, 2), (0, MAX_LEGS + 1)]:
        with pytest.raises(ValidationFailed):
            span_mask(*bad)


def test_a_unit_has_1_to_63_legs_and_the_rest_is_blocked():
    assert unit_mask(1) == 1 and beyond_legs(1) == FULL_MASK - 1
    assert beyond_legs(MAX_LEGS) == 0
    assert FULL_MASK < 2**63  # fits a signed BIGINT, never negative
    for bad in (0, 64):
        with pytest.raises(ValidationFailed):
            unit_mask(bad)
    with pytest.raises(ValidationFailed):
        mask_of([63])


@given(legs)
def test_mask_of_and_legs_of_are_inverse(ls):
    assert legs_of(mask_of(ls)) == sorted(ls)
    assert 0 <= mask_of(ls) <= FULL_MASK


@given(journeys(), journeys())
def test_journeys_overlap_exactly_when_they_share_a_leg(a, b):
    shared = set(range(*a)) & set(range(*b))
    assert overlaps(span_mask(*a), span_mask(*b)) == bool(shared)


@given(masks, masks, masks)
def test_free_on_means_no_leg_of_the_mask_is_occupied_or_blocked(occupied, blocked, mask):
    assert free_on(occupied, blocked, mask) == (not overlaps(occupied, mask) and not overlaps(blocked, mask))


@given(masks, st.integers(1, FULL_MASK))
def test_occupy_then_vacate_gives_back_exactly_the_claimed_legs(occupied, mask):
    if overlaps(occupied, mask):
        return  # a claim is only made where every leg is free
    after = occupy(occupied, mask)
    assert not free_on(after, 0, mask) and after & occupied == occupied
    assert vacate(after, mask) == occupied


@given(st.integers(1, MAX_LEGS), masks)
def test_a_claim_beyond_a_units_legs_is_never_free(n, mask):
    if mask >> n:
        assert not free_on(0, beyond_legs(n), mask)
    else:
        assert free_on(0, beyond_legs(n), mask)


@given(st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.integers(1, FULL_MASK)), max_size=6))
def test_plan_claims_merges_per_unit_sorted_or_refuses_a_leg_chosen_twice(claims):
    per_unit: dict[str, list[int]] = {}
    for u, m in claims:
        per_unit.setdefault(u, []).append(m)
    twice = any(overlaps(a, b) for ms in per_unit.values() for i, a in enumerate(ms) for b in ms[i + 1 :])
    if twice:
        with pytest.raises(ValidationFailed):
            plan_claims([Claim(u, m) for u, m in claims])
        return
    planned = plan_claims([Claim(u, m) for u, m in claims])
    assert [c.unit_id for c in planned] == sorted(per_unit)
    for c in planned:
        assert c.mask == sum(per_unit[c.unit_id])  # disjoint masks: the sum is the union


def test_plan_claims_refuses_empty_and_out_of_range_masks():
    for bad in (0, -1, FULL_MASK + 1):
        with pytest.raises(ValidationFailed):
            plan_claims([Claim("u", bad)])


@given(journeys())
def test_a_journey_is_one_run_of_legs_from_its_origin(journey):
    origin, destination = journey
    mask = span_mask(origin, destination)
    assert legs_of(mask) == list(range(origin, destination))
    assert mask >> origin == (1 << (destination - origin)) - 1  # contiguous, no gap


@given(st.integers(1, MAX_LEGS), journeys())
def test_a_journey_fits_a_unit_exactly_when_it_ends_at_or_before_the_last_stop(n, journey):
    mask = span_mask(*journey)
    fits = journey[1] <= n
    assert (mask & beyond_legs(n) == 0) == fits
    assert free_on(0, beyond_legs(n), mask) == fits


@given(st.integers(-2, MAX_LEGS + 2))
def test_check_legs_accepts_exactly_1_to_63(n):
    if 1 <= n <= MAX_LEGS:
        assert check_legs(n) == n
    else:
        with pytest.raises(ValidationFailed):
            check_legs(n)


@given(st.integers(1, MAX_LEGS), st.integers(-1, FULL_MASK + 1))
def test_check_mask_accepts_only_legs_the_unit_has(n, mask):
    """What block_legs / unblock_legs accept: unblocking can never free a leg beyond the unit's last."""
    if mask > 0 and mask & ~unit_mask(n) == 0:
        assert check_mask(n, mask) == mask and mask & beyond_legs(n) == 0
    else:
        with pytest.raises(ValidationFailed):
            check_mask(n, mask)


@given(masks, masks)
def test_overlap_is_symmetric_and_means_a_shared_leg(a, b):
    assert overlaps(a, b) == overlaps(b, a) == bool(set(legs_of(a)) & set(legs_of(b)))


claims_lists = st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.integers(1, FULL_MASK)), max_size=6)


@given(claims_lists, st.randoms(use_true_random=False))
def test_plan_claims_does_not_depend_on_the_order_of_the_claims(claims, rnd):
    shuffled = list(claims)
    rnd.shuffle(shuffled)
    try:
        planned = plan_claims([Claim(u, m) for u, m in claims])
    except ValidationFailed:
        with pytest.raises(ValidationFailed):
            plan_claims([Claim(u, m) for u, m in shuffled])
        return
    assert plan_claims([Claim(u, m) for u, m in shuffled]) == planned


@given(claims_lists)
def test_merge_masks_is_the_union_per_unit_and_idempotent(claims):
    merged = merge_masks([Claim(u, m) for u, m in claims])
    union: dict[str, int] = {}
    for u, m in claims:
        union[u] = union.get(u, 0) | m
    assert merged == [Claim(u, union[u]) for u in sorted(union)]
    assert merge_masks(merged) == merged
    assert merge_masks([*merged, *merged]) == merged  # blocking twice is blocking once


@given(st.integers(1, MAX_LEGS), st.lists(st.tuples(st.booleans(), journeys(), st.integers(0, 9)), max_size=40))
def test_guarded_claims_and_releases_on_one_unit_never_give_a_leg_two_owners(n, steps):
    """A model of one unit under the engine's guard: claim where ``free_on``, release a live claim. After every
    step ``occupied`` is the union of the live claims, which share no leg and stay within the unit's legs; a
    refused claim did overlap a live claim or the legs beyond."""
    blocked, occupied, live = beyond_legs(n), 0, []
    for claim, journey, pick in steps:
        mask = span_mask(*journey)
        if claim:
            if free_on(occupied, blocked, mask):
                occupied, live = occupy(occupied, mask), [*live, mask]
            else:
                assert any(overlaps(mask, m) for m in live) or overlaps(mask, blocked)
        elif live:
            gone = live.pop(pick % len(live))
            occupied = vacate(occupied, gone)
        union = 0
        for m in live:
            assert not overlaps(union, m)
            union |= m
        assert occupied == union and not overlaps(occupied, blocked)


def _block(occupied: int, blocked: int, mask: int) -> tuple[int, int]:
    return occupied, blocked | mask if not overlaps(occupied, mask) else blocked


def _claim(occupied: int, blocked: int, mask: int) -> tuple[int, int]:
    return occupy(occupied, mask) if free_on(occupied, blocked, mask) else occupied, blocked


@given(st.integers(1, MAX_LEGS), masks, st.integers(1, FULL_MASK), st.integers(1, FULL_MASK), st.booleans())
def test_a_block_and_a_claim_of_a_shared_leg_never_both_succeed(n, occupied, block, claim, block_first):
    """The two guards of ``block_legs`` and ``reserve`` applied to one unit in either order (each update is
    atomic on its row, so any race is one of these two orders): a leg is never both occupied and blocked."""
    state = (occupied & unit_mask(n), beyond_legs(n))
    steps = [(_block, block & unit_mask(n) or 1), (_claim, claim)]
    for step, mask in steps if block_first else steps[::-1]:
        state = step(*state, mask)
    assert not overlaps(*state)
