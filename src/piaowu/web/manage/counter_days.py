"""Which day the box office's session list shows, and the days offered as one tap. Pure.

A scenic area sells a session a day (or one every half hour) for months ahead: one list of every session on sale
made the clerk scroll past weeks of them to find this afternoon's. The counter sells today's first: the list
shows one day, today when it has sessions on sale, else the next day that has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class CounterDays:
    day: date  # the day whose sessions are listed
    strip: tuple[date, ...]  # days with sessions on sale offered as one tap, in order; ``day`` among them if it has


def counter_days(dates: Iterable[date], today: date, wanted: date | None = None, *, strip_len: int = 14) -> CounterDays:
    """``dates``: the local start dates of the sessions on sale (repeats allowed). The day shown is ``wanted``
    when given (even a day without sessions: the clerk asked for it); else today if it has sessions; else the next
    day that has; else (only sessions that started before today and still sell) the last of them. The strip is the
    first ``strip_len`` days with sessions from the earliest, plus the day shown if it has sessions further on."""
    days = sorted(set(dates))
    if wanted is not None:
        day = wanted
    elif not days:
        day = today
    else:
        day = next((d for d in days if d >= today), days[-1])
    strip = days[:strip_len]
    if day in days and day not in strip:
        strip = [*strip, day]
    return CounterDays(day, tuple(strip))
