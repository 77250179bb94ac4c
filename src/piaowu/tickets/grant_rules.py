"""What a ticket type grants, and the entitlements a ticket of it receives at issue. Pure: imports only ``core``.

A *grant* is one line of a ticket type's definition: a target (one session, or an event — an attraction —
whatever its session), a mode and a number:

- ``entries``: ``allowed`` admissions at the target (1 = one entry; 10 = a ten-entry card);
- ``days``: ``allowed`` distinct local days within the window (a "2 days out of 7" pass). Re-entry on a day
  already counted is free: a visitor who leaves the scenic area for lunch comes back in on the same day.

A ticket type with no grants grants what a ticket always did: one entitlement to its own session, with the
ticket's ``entries_allowed``. At issue each grant becomes one *entitlement* of the ticket (``expand``), with its
window fixed then: a session target is admitted during that session's admission window (the live session still
decides at an online gate, so a rescheduled show moves its gates with it); an event target during
``window_days`` local days from the day of the ticket's own session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

# A pass is one QR code and its signed payload lists what it covers (tickets.signing), so the number of grants
# is what keeps the payload small enough for a phone camera.
# The messages below say these numbers in words of their own (they are msgids): change both together.
MAX_GRANTS = 8
MAX_ENTRIES = 1000
MAX_DAYS = 366
MAX_WINDOW_DAYS = 366


class Mode(StrEnum):
    ENTRIES = "entries"  # ``allowed`` admissions
    DAYS = "days"  # ``allowed`` distinct local days; re-entry on a counted day is free


@dataclass(frozen=True, slots=True)
class Grant:
    """One line of a ticket type's grant definition. Exactly one of ``session_id`` / ``event_id``."""

    mode: str
    allowed: int
    session_id: str | None = None
    event_id: str | None = None
    window_days: int | None = None  # event targets only: how many local days, from the ticket's session day


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """A session a grant names, as the catalog tells it at issue."""

    event_id: str
    label: str  # "event · session", shown at the gate
    opens_at: datetime  # admission window
    closes_at: datetime


@dataclass(frozen=True, slots=True)
class Home:
    """The ticket's own session (the one it was sold for) and the values of a ticket without grants."""

    session_id: str
    label: str
    valid_from: datetime
    valid_until: datetime
    entries_allowed: int = 1


@dataclass(frozen=True, slots=True)
class EntitlementSpec:
    position: int
    session_id: str | None
    event_id: str | None
    label: str
    mode: str
    allowed: int
    valid_from: datetime
    valid_until: datetime


def check_grants(grants: Sequence[Grant], sessions: Mapping[str, str], events: Mapping[str, str]) -> list[dict]:
    """Field errors (``field``, ``code``, ``message``) of a grant definition; empty when it is valid.
    ``sessions`` / ``events``: the organizer's ids that a grant may name (id → anything)."""
    errors: list[dict] = []

    def err(field: str, code: str, message: str) -> None:
        errors.append({"field": field, "code": code, "message": message})

    if len(grants) > MAX_GRANTS:
        err("grants", "too_many", "At most 8 grants per ticket type.")
    seen: set[tuple[str | None, str | None]] = set()
    for i, g in enumerate(grants):
        at = f"grants.{i}"
        if (g.session_id is None) == (g.event_id is None):
            err(at, "target", "Name exactly one of session_id or event_id.")
            continue
        if g.session_id is not None and g.session_id not in sessions:
            err(f"{at}.session_id", "not_found", "No such session.")
        if g.event_id is not None and g.event_id not in events:
            err(f"{at}.event_id", "not_found", "No such event.")
        if g.mode not in (Mode.ENTRIES, Mode.DAYS):
            err(f"{at}.mode", "invalid", "Use entries or days.")
        cap, cap_message = (
            (MAX_DAYS, "Between 1 and 366.") if g.mode == Mode.DAYS else (MAX_ENTRIES, "Between 1 and 1000.")
        )
        if not 1 <= g.allowed <= cap:
            err(f"{at}.allowed", "out_of_range", cap_message)
        if g.event_id is not None and g.window_days is None:
            err(f"{at}.window_days", "required", "An event grant needs a window in days.")
        if g.window_days is not None:
            if g.session_id is not None:
                err(f"{at}.window_days", "not_allowed", "A session grant uses the session's own times.")
            elif not 1 <= g.window_days <= MAX_WINDOW_DAYS:
                err(f"{at}.window_days", "out_of_range", "Between 1 and 366.")
            elif g.mode == Mode.DAYS and g.allowed > g.window_days:
                err(f"{at}.allowed", "out_of_range", "More days than the window has.")
        key = (g.session_id, g.event_id)
        if key in seen:
            # Two entitlements to one target would leave the gate to guess which one a scan uses.
            err(at, "duplicate", "This target is granted twice.")
        seen.add(key)
    return errors


def local_day(at: datetime, tz: str) -> date:
    """The calendar day of a moment in the organizer's time zone: what "a day of a multi-day pass" means."""
    return at.astimezone(ZoneInfo(tz)).date()


def day_window(first: date, days: int, tz: str) -> tuple[datetime, datetime]:
    """From local midnight of ``first`` to the last instant of its ``days``-th day (inclusive end)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time.min, zone)
    end = datetime.combine(first + timedelta(days=days), time.min, zone) - timedelta(microseconds=1)
    return start, end


def expand(
    grants: Sequence[Grant],
    home: Home,
    home_day: date,
    sessions: Mapping[str, SessionFacts],
    events: Mapping[str, str],
    tz: str,
) -> list[EntitlementSpec]:
    """The entitlements of one ticket, in the order of its type's grants. No grants: one entitlement to the home
    session with the ticket's own window and ``entries_allowed`` (today's ticket, unchanged). ``home_day``: the
    local day of the home session's start (event windows count from it)."""
    if not grants:
        return [
            EntitlementSpec(
                0,
                home.session_id,
                None,
                home.label,
                Mode.ENTRIES,
                home.entries_allowed,
                home.valid_from,
                home.valid_until,
            )
        ]
    out = []
    for i, g in enumerate(grants):
        if g.session_id is not None:
            s = sessions[g.session_id]
            out.append(EntitlementSpec(i, g.session_id, None, s.label, g.mode, g.allowed, s.opens_at, s.closes_at))
        else:
            assert g.event_id is not None and g.window_days is not None  # check_grants made sure
            start, end = day_window(home_day, g.window_days, tz)
            out.append(EntitlementSpec(i, None, g.event_id, events[g.event_id], g.mode, g.allowed, start, end))
    return out


def envelope(specs: Sequence[EntitlementSpec]) -> tuple[datetime, datetime]:
    """The ticket's overall validity: from the earliest opening to the latest closing of its entitlements."""
    return min(s.valid_from for s in specs), max(s.valid_until for s in specs)
