from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piaowu.core.errors import ValidationFailed
from piaowu.inventory.rules import PoolCounts, Take, check_capacity_change, offer_availability, plan


def test_availability_is_capacity_minus_held_and_sold_never_negative():
    assert PoolCounts(100, 10, 20).available == 70
    assert PoolCounts(10, 8, 4, allowance=2).available == 0  # overbooked units are never advertised
    assert PoolCounts(10, 8, 3, allowance=2).sellable == 1


def test_offer_is_as_available_as_its_scarcest_pool():
    assert offer_availability([PoolCounts(500, 0, 100), PoolCounts(50, 5, 40)]) == 5
    assert offer_availability([]) == 0


def test_plan_merges_per_pool_and_sorts_for_a_fixed_lock_order():
    assert plan([Take("b", 1), Take("a", 2), Take("b", 3)]) == [Take("a", 2), Take("b", 4)]
    with pytest.raises(ValidationFailed):
        plan([Take("a", 0)])


def test_a_pool_taken_seatless_by_any_take_is_taken_seatless_once_merged():
    merged = plan([Take("s", 1), Take("q", 1, seatless=True), Take("s", 2, seatless=True), Take("q", 1)])
    assert merged == [Take("q", 2, seatless=True), Take("s", 3, seatless=True)]
    assert plan([Take("s", 1), Take("s", 1)]) == [Take("s", 2)]


@given(st.lists(st.tuples(st.sampled_from(["p1", "p2", "p3"]), st.integers(1, 9)), min_size=1))
def test_plan_keeps_every_unit_and_is_sorted(takes):
    planned = plan([Take(p, n) for p, n in takes])
    assert [t.pool_id for t in planned] == sorted({p for p, _ in takes})
    assert sum(t.quantity for t in planned) == sum(n for _, n in takes)


@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50), st.integers(0, 5), st.integers(1, 10))
def test_can_take_never_allows_more_than_capacity_plus_allowance(capacity, held, sold, allowance, n):
    counts = PoolCounts(capacity, held, sold, allowance)
    assert counts.can_take(n) == (held + sold + n <= capacity + allowance)


def test_capacity_cannot_go_below_what_is_taken():
    assert check_capacity_change(5, PoolCounts(10, 3, 3))[0]["code"] == "below_taken"
    assert check_capacity_change(6, PoolCounts(10, 3, 3)) == []
    assert check_capacity_change(-1, PoolCounts(10, 0, 0))[0]["code"] == "negative"
