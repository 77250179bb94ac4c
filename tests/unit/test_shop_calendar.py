"""The event page's month calendar (``web.shop_calendar``): a day's state is the best of its sessions', its price
the lowest one can buy; months run Monday first from the first date's month to the last's, none skipped."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from piaowu.web.shop_calendar import DAY_STATE_ORDER, Day, Slot, day_of, days_of, months_of, wants_calendar

CNY = "CNY"


def slot(d: date, state: str = "on_sale", price: int | None = 5000, left: int = 10, item: str = "s") -> Slot[str]:
    return Slot(d, state, left, (price, CNY) if price is not None else None, item)


D = date(2026, 12, 7)  # a Monday


def test_a_day_is_open_when_any_of_its_sessions_can_be_bought():
    day = day_of([slot(D, "sold_out", 3000), slot(D, "on_sale", 5000), slot(D, "ended", 1000)])
    assert day.state == "on_sale" and day.buyable
    assert day.from_price == (5000, CNY)  # the lowest price one can buy, not the sold-out session's


def test_a_day_is_sold_out_only_when_no_session_can_be_bought_and_then_shows_the_lowest_price_of_all():
    day = day_of([slot(D, "sold_out", 3000), slot(D, "ended", 1000)])
    assert day.state == "sold_out" and not day.buyable
    assert day.from_price == (1000, CNY)


def test_held_out_beats_sold_out_and_low_sums_what_is_left():
    assert day_of([slot(D, "sold_out"), slot(D, "held_out")]).state == "held_out"
    low = day_of([slot(D, "low", left=2), slot(D, "low", left=3), slot(D, "sold_out", left=0)])
    assert (low.state, low.left) == ("low", 5)


def test_a_day_without_prices_has_none_and_an_empty_day_is_refused():
    assert day_of([slot(D, price=None)]).from_price is None
    with pytest.raises(ValueError):
        day_of([])


def test_days_are_in_date_order_and_keep_their_sessions_order():
    later, earlier = D + timedelta(days=3), D
    days = days_of([slot(later, item="b1"), slot(earlier, item="a"), slot(later, item="b2")])
    assert [d.day for d in days] == [earlier, later]
    assert [s.item for s in days[1].slots] == ["b1", "b2"]


def test_months_run_monday_first_across_a_year_end_and_keep_an_empty_month_between():
    days = days_of([slot(date(2026, 12, 7)), slot(date(2027, 2, 1))])
    months = months_of(days)
    assert [(m.year, m.month) for m in months] == [(2026, 12), (2027, 1), (2027, 2)]
    december = months[0]
    assert december.weeks[0][:1] == (None,)  # 1 Dec 2026 is a Tuesday: Monday's cell is outside the month
    assert december.weeks[0][1] == date(2026, 12, 1)
    assert december.weeks[1][0] is days[0]  # Monday 7 Dec, with its sessions
    january = months[1]
    assert not any(isinstance(c, Day) for week in january.weeks for c in week)  # nothing on in January
    assert months_of([]) == []


def test_a_calendar_only_for_many_days():
    assert not wants_calendar(days_of([slot(D + timedelta(days=i)) for i in range(4)]))
    assert wants_calendar(days_of([slot(D + timedelta(days=i)) for i in range(5)]))


@given(
    st.lists(
        st.tuples(st.integers(0, 500), st.sampled_from(DAY_STATE_ORDER), st.one_of(st.none(), st.integers(0, 10**6))),
        min_size=1,
        max_size=60,
    )
)
def test_every_date_with_sessions_is_in_the_grid_once_under_its_weekday(raw):
    slots = [slot(D + timedelta(days=offset), state, price) for offset, state, price in raw]
    days = days_of(slots)
    cells = [(cell, column) for m in months_of(days) for week in m.weeks for column, cell in enumerate(week) if cell]
    shown = [(c, col) for c, col in cells if isinstance(c, Day)]
    assert sorted(c.day for c, _ in shown) == sorted({s.day for s in slots})
    assert all(c.day.weekday() == col for c, col in shown)
    plain = [c for c, _ in cells if not isinstance(c, Day)]
    assert all(c.weekday() == col for c, col in cells if not isinstance(c, Day))
    assert len(plain) + len(shown) == len({c if not isinstance(c, Day) else c.day for c, _ in cells})
    assert sum(len(d.slots) for d in days) == len(slots)
