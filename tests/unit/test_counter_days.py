"""The box office's day: which day's sessions the counter lists first (web/manage/counter_days.py)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from piaowu.web.manage.counter_days import counter_days

TODAY = date(2026, 12, 7)


def test_today_first_when_it_has_sessions() -> None:
    days = counter_days([TODAY + timedelta(days=i) for i in (0, 0, 1, 7)], TODAY)
    assert days.day == TODAY
    assert days.strip == (TODAY, TODAY + timedelta(days=1), TODAY + timedelta(days=7))


def test_else_the_next_day_that_has() -> None:
    assert counter_days([date(2026, 12, 14), date(2026, 12, 21)], TODAY).day == date(2026, 12, 14)


def test_a_session_that_started_earlier_and_still_sells_is_reachable() -> None:
    # A multi-day pass that started yesterday is still on sale: with nothing later, its day is shown.
    assert counter_days([TODAY - timedelta(days=1)], TODAY).day == TODAY - timedelta(days=1)


def test_the_day_asked_for_is_shown_even_without_sessions() -> None:
    days = counter_days([TODAY], TODAY, wanted=date(2027, 1, 1))
    assert days.day == date(2027, 1, 1) and days.strip == (TODAY,)


def test_a_far_day_asked_for_joins_the_strip() -> None:
    dates = [TODAY + timedelta(days=i) for i in range(60)]
    far = TODAY + timedelta(days=40)
    days = counter_days(dates, TODAY, wanted=far)
    assert len(days.strip) == 15 and days.strip[-1] == far and days.strip[:14] == tuple(dates[:14])


def test_nothing_on_sale() -> None:
    assert counter_days([], TODAY) == counter_days([], TODAY, wanted=None)
    assert counter_days([], TODAY).day == TODAY and counter_days([], TODAY).strip == ()


@given(
    st.lists(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=40),
    st.dates(date(2026, 1, 1), date(2027, 12, 31)),
)
def test_the_day_shown_has_sessions_whenever_any_day_has(dates: list[date], today: date) -> None:
    days = counter_days(dates, today)
    assert list(days.strip) == sorted(set(days.strip))
    assert set(days.strip) <= set(dates)
    if dates:
        assert days.day in dates and days.day in days.strip
        later = [d for d in dates if d >= today]
        assert days.day == (min(later) if later else max(dates))
