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
    free_on,
    legs_of,
    mask_of,
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
