"""The order state table (orders/states.py): which moves exist, and the sources a conditional update uses."""

from __future__ import annotations

import pytest

from piaowu.core.errors import InvalidState
from piaowu.orders.states import TRANSITIONS, OrderStatus, allowed_sources, check, sources_for

S = OrderStatus


def test_every_state_is_in_the_table_and_refunded_is_final() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    assert TRANSITIONS[S.REFUNDED] == frozenset()


@pytest.mark.parametrize(
    ("target", "sources"),
    [
        (S.PAID, {S.PENDING, S.CANCELLED, S.EXPIRED}),
        (S.CANCELLED, {S.PENDING}),
        (S.EXPIRED, {S.PENDING}),
        (S.PARTIALLY_REFUNDED, {S.PAID, S.PARTIALLY_REFUNDED}),
        (S.REFUNDED, {S.PAID, S.PARTIALLY_REFUNDED}),
        (S.PENDING, set()),
    ],
)
def test_sources_are_derived_from_the_table(target: OrderStatus, sources: set[OrderStatus]) -> None:
    assert sources_for(target) == sources
    assert all(check(src, target) == target for src in sources)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PAID, S.CANCELLED),
        (S.PAID, S.EXPIRED),
        (S.REFUNDED, S.PAID),
        (S.CANCELLED, S.REFUNDED),
        (S.EXPIRED, S.CANCELLED),
        (S.PENDING, S.PENDING),
        (S.PENDING, S.REFUNDED),
    ],
)
def test_a_move_the_table_forbids_is_invalid_state(current: OrderStatus, target: OrderStatus) -> None:
    with pytest.raises(InvalidState) as caught:
        check(current, target)
    assert caught.value.code == "invalid_state"


def test_a_narrower_source_set_must_be_allowed_by_the_table() -> None:
    assert allowed_sources(S.PAID) == {S.PENDING, S.CANCELLED, S.EXPIRED}
    assert allowed_sources(S.PAID, frozenset({S.EXPIRED})) == {S.EXPIRED}
    with pytest.raises(InvalidState):
        allowed_sources(S.PAID, frozenset({S.PENDING, S.REFUNDED}))
    with pytest.raises(InvalidState):
        allowed_sources(S.CANCELLED, frozenset({S.PAID}))
    with pytest.raises(InvalidState):  # nothing ever moves back to pending
        allowed_sources(S.PENDING)


def test_the_named_groups_partition_the_states() -> None:
    from piaowu.orders.states import CLOSED_UNPAID, OPEN, REFUNDABLE, UNPAID, WAS_PAID

    assert {S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED} == WAS_PAID and REFUNDABLE < WAS_PAID
    assert UNPAID == OPEN | CLOSED_UNPAID and not UNPAID & WAS_PAID
    assert set(OrderStatus) == UNPAID | WAS_PAID
    assert sources_for(S.PAID) == UNPAID  # a payment may land on any order not yet paid
