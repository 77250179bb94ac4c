from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piaowu.core.errors import InvalidQuantity, InvalidState, NotOnSale, SeatRequired, ValidationFailed
from piaowu.core.selections import Item
from piaowu.orders import placement
from piaowu.orders.schemas import normalize_phone
from piaowu.orders.states import TRANSITIONS, OrderStatus, after_refund, check


@dataclass(frozen=True)
class Offer:
    ticket_type_id: str
    name: str = "A"
    price_minor: int = 10000
    currency: str = "CNY"
    min_per_order: int = 1
    max_per_order: int = 4
    is_active: bool = True
    pool_ids: tuple[str, ...] = ("session",)
    session_id: str = "s1"
    sale_state: str = "on_sale"
    event_name: str = "Event"
    session_name: str = "Evening"
    starts_at: datetime = datetime(2027, 1, 1, 19, 30, tzinfo=UTC)
    seated: bool = False


def build(pairs, offers):  # noqa: ANN001, ANN201
    """The counted request shape, as ``resolvers.items_of`` makes it."""
    items = [
        Item(placement.KIND, placement.AdmissionSelection(t, q), (), i, f"items.{i}") for i, (t, q) in enumerate(pairs)
    ]
    return placement.resolve(items, offers)


def test_build_prices_lines_and_collects_takes_per_pool():
    offers = {"a": Offer("a", pool_ids=("session", "quota-a")), "b": Offer("b", price_minor=5000)}
    draft = build([("a", 2), ("b", 1)], offers)
    assert [line.price_minor for line in draft.lines] == [10000, 10000, 5000]
    assert draft.total_minor == 25000
    assert sorted(draft.takes) == [("quota-a", 2), ("session", 3)]


def test_same_ticket_type_twice_counts_against_the_limit_together():
    with pytest.raises(InvalidQuantity):
        build([("a", 3), ("a", 2)], {"a": Offer("a", max_per_order=4)})


def test_unknown_and_inactive_ticket_types_are_field_errors():
    with pytest.raises(ValidationFailed) as err:
        build([("a", 1), ("zzz", 1), ("off", 1)], {"a": Offer("a"), "off": Offer("off", is_active=False)})
    assert [e["field"] for e in err.value.errors] == ["items.1.ticket_type_id", "items.2.ticket_type_id"]


@pytest.mark.parametrize("state", ["not_yet", "ended", "unavailable"])
def test_only_sessions_on_sale_sell(state):
    with pytest.raises(NotOnSale):
        build([("a", 1)], {"a": Offer("a", sale_state=state)})


def test_a_seated_sessions_ticket_type_is_not_sold_as_counted_admission():
    with pytest.raises(SeatRequired) as err:
        build([("a", 1), ("b", 2)], {"a": Offer("a"), "b": Offer("b", session_id="s2", seated=True)})
    assert err.value.data == {"ticket_type_id": "b", "session_id": "s2", "field": "items.1.ticket_type_id"}
    assert err.value.status == 422 and err.value.code == "seat_required"


def test_below_minimum_is_refused():
    with pytest.raises(InvalidQuantity):
        build([("a", 1)], {"a": Offer("a", min_per_order=2)})


@given(st.lists(st.tuples(st.sampled_from("ab"), st.integers(1, 4)), min_size=1, max_size=4))
def test_total_is_always_the_sum_of_line_prices(items):
    offers = {"a": Offer("a", max_per_order=100), "b": Offer("b", price_minor=333, max_per_order=100)}
    draft = build(items, offers)
    assert draft.total_minor == sum(line.price_minor for line in draft.lines)
    assert len(draft.lines) == sum(q for _, q in items)


def test_order_state_table():
    assert check("pending", OrderStatus.PAID) == OrderStatus.PAID
    assert check("expired", OrderStatus.PAID) == OrderStatus.PAID  # late payment revives
    with pytest.raises(InvalidState):
        check("refunded", OrderStatus.PAID)
    with pytest.raises(InvalidState):
        check("paid", OrderStatus.CANCELLED)  # paid orders are refunded, not cancelled
    assert TRANSITIONS[OrderStatus.REFUNDED] == frozenset()
    assert after_refund(0) == OrderStatus.REFUNDED and after_refund(2) == OrderStatus.PARTIALLY_REFUNDED


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("13812345678", "+8613812345678"), ("+86 138 1234 5678", "+8613812345678"), ("138-1234-5678", "+8613812345678")],
)
def test_phone_numbers_normalise_to_e164(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["123", "abcdefg", "1381234567", "02112345678x"])
def test_bad_phone_numbers_are_refused(raw):
    with pytest.raises(ValueError):
        normalize_phone(raw)
