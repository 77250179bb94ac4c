"""Sessions in series (catalog.series_rules): a recurrence → UTC sessions, DST-safe, capped, sales windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from piaowu.catalog.series_rules import (
    MAX_SESSIONS,
    PlannedSession,
    Recurrence,
    SalesWindow,
    days,
    missing,
    parse_dates,
    parse_times,
    plan,
    to_utc,
)
from piaowu.core.errors import EmptySeries, TooManySessions, ValidationFailed

BERLIN, SHANGHAI = "Europe/Berlin", "Asia/Shanghai"


def rule(**kw: object) -> Recurrence:
    base: dict[str, object] = {
        "first_date": date(2026, 6, 1),
        "last_date": date(2026, 6, 30),
        "weekdays": frozenset(range(7)),
        "start_times": (time(9, 0),),
        "duration_minutes": 8 * 60,
        "timezone": SHANGHAI,
    }
    return Recurrence(**(base | kw))  # type: ignore[arg-type]


def test_thirty_daily_sessions_at_nine_in_shanghai():
    out = plan(rule())
    assert len(out) == 30
    assert out[0].starts_at == datetime(2026, 6, 1, 1, 0, tzinfo=UTC)  # 09:00 at UTC+8
    assert out[0].ends_at == datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    assert out[-1].starts_at == datetime(2026, 6, 30, 1, 0, tzinfo=UTC)


def test_tuesdays_and_fridays_keep_their_wall_clock_across_the_berlin_change():
    # 2026-03-29: Berlin moves from UTC+1 to UTC+2. Eight weeks around it: 16 sessions, always 19:30 local.
    out = plan(
        rule(
            first_date=date(2026, 3, 2),
            last_date=date(2026, 4, 26),
            weekdays=frozenset({1, 4}),
            start_times=(time(19, 30),),
            duration_minutes=150,
            timezone=BERLIN,
        )
    )
    assert len(out) == 16
    local = [s.starts_at.astimezone(ZoneInfo(BERLIN)) for s in out]
    assert {(t.hour, t.minute) for t in local} == {(19, 30)}
    assert {t.weekday() for t in local} == {1, 4}
    assert out[0].starts_at.hour == 18 and out[-1].starts_at.hour == 17  # UTC: winter, then summer
    assert all(s.ends_at - s.starts_at == timedelta(minutes=150) for s in out)


def test_a_start_time_in_the_gap_moves_forward_and_two_times_on_one_moment_make_one_session():
    day = date(2026, 3, 29)  # Berlin: 02:00 → 03:00
    out = plan(rule(first_date=day, last_date=day, start_times=(time(2, 30), time(3, 30)), timezone=BERLIN))
    assert [s.starts_at for s in out] == [datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]  # 03:30 CEST, once
    autumn = date(2026, 10, 25)  # 03:00 → 02:00: 02:30 happens twice, the first (summer time) is taken
    out = plan(rule(first_date=autumn, last_date=autumn, start_times=(time(2, 30),), timezone=BERLIN))
    assert out[0].starts_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_excluded_dates_are_skipped():
    out = plan(rule(excluded_dates=frozenset({date(2026, 6, 10), date(2026, 6, 11), date(2027, 1, 1)})))
    assert len(out) == 28
    assert date(2026, 6, 10) not in {s.starts_at.astimezone(ZoneInfo(SHANGHAI)).date() for s in out}


def test_the_cap_counts_before_anything_is_made():
    with pytest.raises(TooManySessions) as err:
        plan(rule(first_date=date(2026, 1, 1), last_date=date(2026, 12, 31), start_times=(time(9), time(14))))
    assert err.value.data == {"count": 730, "limit": MAX_SESSIONS}
    assert len(plan(rule(last_date=date(2026, 6, 1) + timedelta(days=MAX_SESSIONS - 1)))) == MAX_SESSIONS


def test_a_rule_matching_no_day_is_an_empty_series():
    with pytest.raises(EmptySeries):
        plan(rule(first_date=date(2026, 6, 1), last_date=date(2026, 6, 5), weekdays=frozenset({5, 6})))
    with pytest.raises(EmptySeries):
        plan(rule(last_date=date(2026, 6, 1), excluded_dates=frozenset({date(2026, 6, 1)})))


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"last_date": date(2026, 5, 1)}, "last_date"),
        ({"last_date": date(2036, 5, 1)}, "last_date"),
        ({"weekdays": frozenset()}, "weekdays"),
        ({"weekdays": frozenset({7})}, "weekdays"),
        ({"start_times": ()}, "start_times"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
    ],
)
def test_bad_rules_name_their_field(kw, field):
    with pytest.raises(ValidationFailed) as err:
        plan(rule(**kw))
    assert [e["field"] for e in err.value.errors] == [field]


def test_sales_open_days_before_on_the_wall_clock_and_close_minutes_before():
    out = plan(
        rule(first_date=date(2026, 4, 3), last_date=date(2026, 4, 3), start_times=(time(19, 30),), timezone=BERLIN),
        SalesWindow(opens_days_before=30, closes_minutes_before=60),
    )
    (s,) = out
    assert s.sales_start.astimezone(ZoneInfo(BERLIN)).replace(tzinfo=None) == datetime(2026, 3, 4, 19, 30)
    assert s.sales_end == s.starts_at - timedelta(minutes=60)
    with pytest.raises(ValidationFailed):
        plan(rule(), SalesWindow(opens_days_before=0, closes_minutes_before=0))
    (plain,) = plan(rule(last_date=date(2026, 6, 1)))
    assert plain.sales_start is None and plain.sales_end is None


def test_missing_leaves_out_the_moments_the_event_has():
    out = plan(rule(last_date=date(2026, 6, 5)))
    have = [out[1].starts_at.astimezone(ZoneInfo(SHANGHAI)), out[3].starts_at]
    assert missing(out, have) == [out[0], out[2], out[4]]


def test_form_text_is_read_as_times_and_dates():
    assert parse_times("09:00, 14:30\n19:30，20:00") == (time(9), time(14, 30), time(19, 30), time(20))
    assert parse_dates("2026-10-01 2026-10-02,2026-10-03") == {date(2026, 10, d) for d in (1, 2, 3)}
    with pytest.raises(ValueError):
        parse_times("9 o'clock")
    with pytest.raises(ValueError):
        parse_dates("2026-02-30")


# ---- properties --------------------------------------------------------------------------------------------

ZONES = st.sampled_from([SHANGHAI, BERLIN, "America/New_York", "Australia/Lord_Howe", "UTC", "America/Sao_Paulo"])


@st.composite
def rules(draw: st.DrawFn) -> Recurrence:
    first = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)))
    span = draw(st.integers(0, 120))
    times = draw(
        st.lists(st.times(), min_size=1, max_size=4).map(lambda ts: tuple(t.replace(microsecond=0) for t in ts))
    )
    return Recurrence(
        first_date=first,
        last_date=first + timedelta(days=span),
        weekdays=frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
        start_times=times,
        duration_minutes=draw(st.integers(1, 24 * 60)),
        timezone=draw(ZONES),
        excluded_dates=frozenset(draw(st.lists(st.dates(first, first + timedelta(days=span)), max_size=10))),
    )


def _exists(day: date, at: time, tz: ZoneInfo) -> bool:
    """Whether this wall-clock time happens on this day (not inside a spring-forward gap)."""
    back = to_utc(day, at, tz).astimezone(tz)
    return back.date() == day and back.time().replace(fold=0) == at


@settings(max_examples=200, deadline=None)
@given(rules())
def test_every_plan_matches_the_calendar(r: Recurrence) -> None:
    tz = ZoneInfo(r.timezone)
    try:
        out = plan(r, limit=10_000)
    except EmptySeries:
        assert days(r) == []
        return
    starts = [s.starts_at for s in out]
    assert starts == sorted(set(starts))  # sorted, no duplicates
    matching = days(r)
    expected = {to_utc(d, t, tz) for d in matching for t in r.start_times}
    assert set(starts) == expected
    assert len(out) <= len(matching) * len(set(r.start_times))
    for s in out:
        assert s.starts_at.tzinfo is UTC and s.ends_at - s.starts_at == timedelta(minutes=r.duration_minutes)
    # Every wall-clock time that exists on a matching day is a session at exactly that local time and day.
    for d in matching:
        for t in r.start_times:
            if _exists(d, t, tz):
                local = to_utc(d, t, tz).astimezone(tz)
                assert (local.date(), local.time().replace(fold=0)) == (d, t)
                assert local.weekday() in r.weekdays and d not in r.excluded_dates
                assert r.first_date <= d <= r.last_date


@settings(max_examples=100, deadline=None)
@given(rules())
def test_every_session_starts_on_a_matching_day_within_a_gap_of_it(r: Recurrence) -> None:
    tz = ZoneInfo(r.timezone)
    try:
        out = plan(r, limit=10_000)
    except EmptySeries:
        return
    allowed = set(days(r))
    for s in out:
        local = s.starts_at.astimezone(tz)
        # A time inside a gap moves forward by the gap (at most a few hours, possibly past midnight).
        assert local.date() in allowed or (local - timedelta(hours=3)).date() in allowed


@settings(max_examples=100, deadline=None)
@given(rules(), st.integers(1, 200))
def test_a_plan_over_the_cap_is_refused_and_under_it_is_whole(r: Recurrence, limit: int) -> None:
    count = len(days(r)) * len(set(r.start_times))
    try:
        out = plan(r, limit=limit)
    except TooManySessions as exc:
        assert count > limit and exc.data["count"] == count
        return
    except EmptySeries:
        return
    assert count <= limit and len(out) <= count


@settings(max_examples=100, deadline=None)
@given(rules(), st.data())
def test_missing_is_exactly_the_plan_minus_what_exists(r: Recurrence, data: st.DataObject) -> None:
    try:
        out = plan(r, limit=10_000)
    except EmptySeries:
        return
    have = data.draw(st.lists(st.sampled_from(out), unique=True)) if out else []
    rest = missing(out, [h.starts_at for h in have])
    assert set(rest) | set(have) == set(out) and not set(rest) & set(have)
    assert missing(rest, [p.starts_at for p in out]) == [] and isinstance(rest, list)
    assert all(isinstance(p, PlannedSession) for p in rest)
