"""What buyers see is left of a session (catalog.rules.availability, order_limit). Pure."""

from __future__ import annotations

import pytest

from piaowu.catalog.rules import Availability, availability, order_limit

ON, NOT_YET, ENDED, UNAVAILABLE = "on_sale", "not_yet", "ended", "unavailable"


@pytest.mark.parametrize(
    ("status", "sale", "available", "held", "types", "expected"),
    [
        ("paused", ON, 50, 0, [50], Availability("paused", 0)),  # paused wins over "on sale"
        ("on_sale", NOT_YET, 50, 0, [50], Availability("not_yet", 0)),
        ("on_sale", ENDED, 50, 0, [50], Availability("ended", 0)),
        ("closed", UNAVAILABLE, 50, 0, [50], Availability("ended", 0)),
        ("on_sale", ON, 0, 0, [50], Availability("sold_out", 0)),
        ("on_sale", ON, 0, 3, [50], Availability("held_out", 0)),  # others' unpaid holds may come back
        ("on_sale", ON, 50, 0, [], Availability("sold_out", 0)),  # no active ticket type: nothing to buy
        ("on_sale", ON, 50, 0, [4, 3], Availability("low", 7)),  # quotas cap what the pool has
        ("on_sale", ON, 10, 0, [40, 40], Availability("low", 10)),  # 10 % of 100
        ("on_sale", ON, 11, 0, [40], Availability("on_sale", 11)),
        ("on_sale", ON, 80, 0, [30, 30], Availability("on_sale", 60)),
    ],
)
def test_availability(status: str, sale: str, available: int, held: int, types: list[int], expected) -> None:  # noqa: ANN001
    got = availability(status, sale, 100, available, held, types)
    assert got == expected
    assert got.buyable == (expected.state in ("on_sale", "low"))


def test_a_tiny_session_is_low_from_its_last_unit() -> None:
    assert availability("on_sale", ON, 5, 1, 0, [1]) == Availability("low", 1)
    assert availability("on_sale", ON, 5, 2, 0, [2]) == Availability("on_sale", 2)


@pytest.mark.parametrize(
    ("per_order", "type_left", "session_left", "limit"),
    [(10, 50, 50, 10), (10, 3, 50, 3), (10, 50, 2, 2), (10, 0, 50, 0), (10, -1, 50, 0)],
)
def test_order_limit(per_order: int, type_left: int, session_left: int, limit: int) -> None:
    assert order_limit(per_order, type_left, session_left) == limit
