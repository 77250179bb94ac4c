"""Sessions in series: a recurrence rule → the sessions it stands for. Pure: plain values in, plain values out.

A rule says *when*, on the organizer's wall clock: a date range, the weekdays, one or more start times, a
duration, a time zone, and dates to skip. ``plan`` turns it into UTC start and end moments, sorted and without
duplicates, plus each session's sales window. The wall clock wins over the UTC offset: "every day 19:30 in
Europe/Berlin" is 19:30 in Berlin in winter and in summer (17:30 UTC in summer, 18:30 UTC in winter).

Daylight-saving edges, decided once here (RFC 5545 does the same):
- a start time that does not exist on a day (the clocks jump from 02:00 to 03:00, and the rule says 02:30) is
  moved forward by the jump: 03:30 local, the moment 02:30 would have been without it;
- a start time that exists twice (the clocks go back from 03:00 to 02:00) is the first of the two (summer time).
- the duration is elapsed time: a 3-hour session over the night the clocks move still lasts 3 hours.
Two start times that land on the same moment (02:30 and 03:30 on the day of the jump) make one session.

One rule makes at most ``MAX_SESSIONS`` sessions (``TooManySessions``), spans at most ``MAX_DAYS`` days, and
makes at least one (``EmptySeries``): a rule that matches no day is a mistake worth saying.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from piaowu.core.errors import EmptySeries, TooManySessions, ValidationFailed

MAX_SESSIONS = 500  # per rule: a season of daily sessions with one or two start times
MAX_DAYS = 3 * 366  # the date range, so that a typo (year 2062) is refused before any day is walked
MAX_DURATION_MINUTES = 7 * 24 * 60
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order


@dataclass(frozen=True)
class Recurrence:
    """Sessions on every ``weekdays`` day (0 = Monday … 6 = Sunday) from ``first_date`` to ``last_date``
    (both included), except ``excluded_dates``, at each of ``start_times`` (wall clock in ``timezone``)."""

    first_date: date
    last_date: date
    weekdays: frozenset[int]
    start_times: tuple[time, ...]
    duration_minutes: int
    timezone: str
    excluded_dates: frozenset[date] = field(default_factory=frozenset)


@dataclass(frozen=True)
class SalesWindow:
    """Sales open ``opens_days_before`` days before each start (same wall-clock time; None: open at once) and
    close ``closes_minutes_before`` minutes before it (None: when the session ends, as for any session)."""

    opens_days_before: int | None = None
    closes_minutes_before: int | None = None


@dataclass(frozen=True)
class PlannedSession:
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    sales_start: datetime | None
    sales_end: datetime | None


def _error(field_name: str, code: str, message: str) -> dict[str, str]:
    return {"field": field_name, "code": code, "message": message}


def zone(name: str) -> ZoneInfo | None:
    """The IANA zone of this name, or None when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a path-like or empty name
        return None


def validate(rule: Recurrence, window: SalesWindow) -> list[dict[str, str]]:
    """Field errors of a rule, before any day is walked."""
    errors: list[dict[str, str]] = []
    if rule.last_date < rule.first_date:
        errors.append(_error("last_date", "before_start", "The last date must not be before the first date."))
    elif (rule.last_date - rule.first_date).days >= MAX_DAYS:
        errors.append(_error("last_date", "range_too_long", "A series spans at most three years."))
    if not rule.weekdays:
        errors.append(_error("weekdays", "required", "Choose at least one weekday."))
    elif not rule.weekdays <= set(range(7)):
        errors.append(_error("weekdays", "invalid", "Weekdays are 0 (Monday) to 6 (Sunday)."))
    if not rule.start_times:
        errors.append(_error("start_times", "required", "Give at least one start time."))
    if not 1 <= rule.duration_minutes <= MAX_DURATION_MINUTES:
        errors.append(_error("duration_minutes", "out_of_range", "A session lasts from 1 minute to 7 days."))
    if zone(rule.timezone) is None:
        errors.append(_error("timezone", "unknown", "Unknown time zone."))
    if (
        window.opens_days_before is not None
        and window.closes_minutes_before is not None
        and window.opens_days_before * 24 * 60 <= window.closes_minutes_before
    ):
        errors.append(_error("sales_closes_minutes_before", "before_open", "Sales must close after they open."))
    return errors


def days(rule: Recurrence) -> list[date]:
    """The dates the rule has sessions on, in order."""
    out = []
    day = rule.first_date
    while day <= rule.last_date:
        if day.weekday() in rule.weekdays and day not in rule.excluded_dates:
            out.append(day)
        day += timedelta(days=1)
    return out


def to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time on a day in ``tz`` as a UTC moment (the DST edges as the module says: fold=0 is the
    first of two ambiguous times, and the offset before a gap, which moves a missing time forward)."""
    return datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz).astimezone(UTC)


def plan(rule: Recurrence, window: SalesWindow = SalesWindow(), *, limit: int = MAX_SESSIONS) -> list[PlannedSession]:
    """The sessions of a rule, sorted by start, no two at the same moment. Raises ValidationFailed (field
    errors), EmptySeries (no day matches) or TooManySessions (more than ``limit``; nothing is planned)."""
    errors = validate(rule, window)
    if errors:
        raise ValidationFailed(errors)
    tz = zone(rule.timezone)
    assert tz is not None  # validate() said so
    matching = days(rule)
    times = sorted(set(rule.start_times))
    if len(matching) * len(times) > limit:
        # Counted before any moment is made: the operator learns the size of what was asked.
        raise TooManySessions(count=len(matching) * len(times), limit=limit)
    starts = sorted({to_utc(day, at, tz) for day in matching for at in times})
    if not starts:
        raise EmptySeries()
    duration = timedelta(minutes=rule.duration_minutes)
    out = []
    for start in starts:
        sales_start = None
        if window.opens_days_before is not None:
            local = start.astimezone(tz).replace(tzinfo=None)
            opens = local - timedelta(days=window.opens_days_before)
            sales_start = to_utc(opens.date(), opens.time(), tz)
        sales_end = None
        if window.closes_minutes_before is not None:
            sales_end = start - timedelta(minutes=window.closes_minutes_before)
        out.append(PlannedSession(start, start + duration, sales_start, sales_end))
    return out


def missing(planned: Sequence[PlannedSession], existing_starts: Iterable[datetime]) -> list[PlannedSession]:
    """The planned sessions the event does not have yet: a session is the same when it starts at the same
    moment (whatever its name or how it was made), so running a rule twice makes its sessions once."""
    have = {s.astimezone(UTC) for s in existing_starts}
    return [p for p in planned if p.starts_at not in have]


def parse_times(text: str) -> tuple[time, ...]:
    """'09:00, 14:30' (commas, spaces or line breaks between) → times. Raises ValueError on a bad one."""
    out = []
    for part in text.replace(",", " ").replace("，", " ").split():
        out.append(time.fromisoformat(part))
    return tuple(out)


def parse_dates(text: str) -> frozenset[date]:
    """'2026-10-01 2026-10-02' (commas, spaces or line breaks between) → dates. Raises ValueError on a bad one."""
    return frozenset(date.fromisoformat(p) for p in text.replace(",", " ").replace("，", " ").split())
