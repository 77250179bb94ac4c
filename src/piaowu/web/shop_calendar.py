"""The shop's dates of one event as a buyer scans them: days (a day's sessions and one state for the day) laid out
in month grids, Monday first. Pure: the caller gives each session's local date, state and lowest price.

Scenic areas and long runs have a session a day or several (timed entry); a list of thirty rows hides the other
events and makes a buyer scroll to find Saturday. A month grid answers "which days can I still go?" at a glance."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

T = TypeVar("T")

# A day's state is the best state among its sessions, in this order: a buyer who can buy any session that day
# should see the day as open; a day is sold out only when every session is over or sold out.
DAY_STATE_ORDER = ("on_sale", "low", "held_out", "not_yet", "paused", "sold_out", "ended")


@dataclass(frozen=True)
class Slot(Generic[T]):
    """One session on a day: ``item`` is the caller's (opaque here)."""

    day: date
    state: str
    left: int
    price: tuple[int, str] | None  # the lowest active price, minor units and currency
    item: T


@dataclass(frozen=True)
class Day(Generic[T]):
    day: date
    slots: tuple[Slot[T], ...]
    state: str
    left: int  # for "low": what the low sessions have left between them
    from_price: tuple[int, str] | None  # the lowest price among the sessions one can buy, else among all

    @property
    def buyable(self) -> bool:
        return self.state in ("on_sale", "low")


@dataclass(frozen=True)
class Month(Generic[T]):
    year: int
    month: int
    weeks: tuple[tuple[Day[T] | date | None, ...], ...]  # 7 cells a week: a day with sessions, a plain date, or
    # None (outside the month)


def day_of(slots: Sequence[Slot[T]]) -> Day[T]:
    """One day from its sessions (at least one, all on the same date)."""
    if not slots:
        raise ValueError("a day needs at least one session")
    state = min((s.state for s in slots), key=DAY_STATE_ORDER.index)
    left = sum(s.left for s in slots if s.state == "low")
    open_prices = [s.price for s in slots if s.price is not None and s.state in ("on_sale", "low")]
    prices = open_prices or [s.price for s in slots if s.price is not None]
    return Day(slots[0].day, tuple(slots), state, left, min(prices) if prices else None)


def days_of(slots: Iterable[Slot[T]]) -> list[Day[T]]:
    """The days that have sessions, in date order; each day's sessions keep the order given."""
    by_day: dict[date, list[Slot[T]]] = {}
    for slot in slots:
        by_day.setdefault(slot.day, []).append(slot)
    return [day_of(by_day[d]) for d in sorted(by_day)]


def months_of(days: Sequence[Day[T]]) -> list[Month[T]]:
    """Month grids from the first day's month to the last day's, every month in between included (an empty month
    says "nothing then" better than a month that silently goes missing)."""
    if not days:
        return []
    by_date = {d.day: d for d in days}
    first, last = min(by_date), max(by_date)
    out: list[Month[T]] = []
    year, month = first.year, first.month
    grid = calendar.Calendar(firstweekday=calendar.MONDAY)
    while (year, month) <= (last.year, last.month):
        weeks = tuple(
            tuple(
                None if d.month != month else by_date.get(d, d)
                for d in week  # monthdatescalendar pads with the neighbours' dates
            )
            for week in grid.monthdatescalendar(year, month)
        )
        out.append(Month(year, month, weeks))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def wants_calendar(days: Sequence[Day[object]], *, min_days: int = 5) -> bool:
    """A grid helps when the sessions fall on several days; two or three dates read better as a list."""
    return len(days) >= min_days
