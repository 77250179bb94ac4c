"""The gate's verdict on one scan. Pure: imports only ``core``.

The order of the checks is the order a steward needs the answer in: is it ours at all, was its session
cancelled, was it cancelled,
is it for this entrance, is it the right time, has it been used. "Already checked in" comes last so that it
is only said of a ticket that would otherwise be admitted (and then says when and where it was used).

A ticket holds one or more *entitlements* (tickets.grant_rules): one session, N entries, several attractions,
K days in a window. "Is it for this entrance" picks the entitlements this gate covers; the first of them that
can be used now is the one the scan redeems, and each is judged on its own (its window, its uses, its days).
A multi-day entitlement admits again, without counting a day, on a day it already counted.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class ScanResult(StrEnum):
    ADMITTED = "admitted"  # let them in
    ALREADY_CHECKED_IN = "already_checked_in"  # every entry used; says when and at which gate the last one was
    WRONG_SESSION = "wrong_session"  # genuine, but for a session this gate does not admit
    NOT_YET_VALID = "not_yet_valid"  # admission has not opened yet (session start − admission_opens_minutes)
    EXPIRED = "expired"  # the session is over
    INVALID_TICKET = "invalid_ticket"  # not a ticket of this organizer: unknown code, bad or foreign signature
    REFUNDED = "refunded"  # the ticket was refunded
    VOIDED = "voided"  # the ticket was cancelled (exchanged, voided by an operator)
    SESSION_CANCELLED = "session_cancelled"  # its session was cancelled (the ticket is refunded by the job)
    NOT_COVERED = "not_covered"  # a pass that grants nothing at this gate (a single-session ticket: wrong_session)
    DAYS_USED_UP = "days_used_up"  # a multi-day pass whose every day is counted, scanned on a new day
    REPLACED = "replaced"  # an old code of a ticket reissued since (a seat exchange): the new seat is named


# The English sentence for each result: a gettext msgid, translated by the pages and the API.
MESSAGES: dict[ScanResult, str] = {
    ScanResult.ADMITTED: "Admitted",
    ScanResult.ALREADY_CHECKED_IN: "Already checked in",
    ScanResult.WRONG_SESSION: "Not valid for this session",
    ScanResult.NOT_YET_VALID: "Not valid yet: admission has not opened",
    ScanResult.EXPIRED: "Expired: this session is over",
    ScanResult.INVALID_TICKET: "Not a valid ticket",
    ScanResult.REFUNDED: "Refunded ticket",
    ScanResult.VOIDED: "Void ticket",
    ScanResult.SESSION_CANCELLED: "Session cancelled: this ticket is no longer valid",
    ScanResult.NOT_COVERED: "This pass does not cover this entrance",
    ScanResult.DAYS_USED_UP: "Every day of this pass has been used",
    ScanResult.REPLACED: "Replaced: this ticket was exchanged for another seat",
}


class Mode:
    """The same values as ``tickets.grant_rules.Mode`` (this module imports only ``core``)."""

    ENTRIES = "entries"
    DAYS = "days"


@dataclass(frozen=True, slots=True)
class Window:
    """When a gate admits a session's tickets: [opens_at, closes_at]."""

    opens_at: datetime
    closes_at: datetime


@dataclass(frozen=True, slots=True)
class EntitlementFacts:
    """One entitlement of a ticket as the gate judges it. ``window``: for a session target the live session's
    admission window; otherwise the window fixed at issue."""

    position: int
    session_id: str | None
    event_id: str | None
    mode: str  # Mode
    allowed: int
    used: int
    window: Window
    days_used: frozenset[str] = frozenset()  # local days (ISO dates) a ``days`` entitlement counted
    last_entry_at: datetime | None = None
    last_gate: str = ""
    # Its session was cancelled (a pass covering a session other than its own: the ticket is not refunded for it,
    # but that part admits no more).
    session_cancelled: bool = False


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What the rules need to know about a ticket (no sale data)."""

    status: str  # valid, refunded, void
    session_id: str
    entries_allowed: int
    entries_used: int
    last_entry_at: datetime | None = None
    last_gate: str = ""
    # Its session was cancelled. Decided from the live session, so gates refuse the ticket from the moment of the
    # cancellation, before the job has refunded it.
    session_cancelled: bool = False
    # What it grants. Empty: one entitlement to ``session_id`` with ``entries_allowed`` (a ticket without grants,
    # judged in the window the caller passes).
    entitlements: tuple[EntitlementFacts, ...] = ()


def admission_window(starts_at: datetime, ends_at: datetime, admission_opens_minutes: int) -> Window:
    return Window(starts_at - timedelta(minutes=max(0, admission_opens_minutes)), ends_at)


@dataclass(frozen=True, slots=True)
class Verdict:
    result: ScanResult
    previous_at: datetime | None = None  # already_checked_in: the last entry
    previous_gate: str = ""
    opens_at: datetime | None = None  # not_yet_valid: when it will be
    position: int | None = None  # the entitlement judged (admitted: the one to redeem)
    consumes: bool = False  # admitted and counts a use (False: re-entry on a day a multi-day pass counted)

    @property
    def admitted(self) -> bool:
        return self.result is ScanResult.ADMITTED

    @property
    def message(self) -> str:
        return MESSAGES[self.result]


def use_verdict(e: EntitlementFacts, now: datetime, day: str) -> Verdict:
    """May this entitlement be used now, on local day ``day`` (ISO date)? Never admits past ``allowed`` uses, a
    ``days`` entitlement never counts more than ``allowed`` distinct days, and nothing outside its window."""
    if e.session_cancelled:
        return Verdict(ScanResult.SESSION_CANCELLED, position=e.position)
    if now < e.window.opens_at:
        return Verdict(ScanResult.NOT_YET_VALID, opens_at=e.window.opens_at, position=e.position)
    if now > e.window.closes_at:
        return Verdict(ScanResult.EXPIRED, position=e.position)
    if e.mode == Mode.DAYS:
        if day in e.days_used:
            return Verdict(ScanResult.ADMITTED, position=e.position, consumes=False)
        if e.used >= e.allowed:
            return Verdict(ScanResult.DAYS_USED_UP, e.last_entry_at, e.last_gate, position=e.position)
        return Verdict(ScanResult.ADMITTED, position=e.position, consumes=True)
    if e.used >= e.allowed:
        return Verdict(ScanResult.ALREADY_CHECKED_IN, e.last_entry_at, e.last_gate, position=e.position)
    return Verdict(ScanResult.ADMITTED, position=e.position, consumes=True)


def covers(e: EntitlementFacts, session_ids: Collection[str], event_ids: Collection[str]) -> bool:
    """Does a gate admitting these sessions (of these events) take this entitlement? No sessions: every one."""
    if not session_ids:
        return True
    return (e.session_id is not None and e.session_id in session_ids) or (
        e.event_id is not None and e.event_id in event_ids
    )


_IN_WINDOW_REFUSALS = (ScanResult.ALREADY_CHECKED_IN, ScanResult.DAYS_USED_UP)


def replaced_verdict() -> Verdict:
    """An old code of a ticket that was reissued (its seat exchanged): never admitted, whatever the ticket's
    state now, and told apart from an unknown code so the attendant can send the holder to the new seat."""
    return Verdict(ScanResult.REPLACED)


def verdict(
    ticket: TicketFacts | None,
    expected_session_ids: Collection[str],
    now: datetime,
    window: Window,
    *,
    expected_event_ids: Collection[str] = (),
    day: str = "",
) -> Verdict:
    """Decide one scan. ``expected_session_ids`` empty means the gate admits every session of the organizer;
    ``expected_event_ids`` are the events of those sessions (an attraction pass names an event). ``window`` is
    the ticket's own session window, used when ``ticket.entitlements`` is empty."""
    if ticket is None:
        return Verdict(ScanResult.INVALID_TICKET)
    if ticket.session_cancelled:  # first: whatever else is true of the ticket, this is what the holder must hear
        return Verdict(ScanResult.SESSION_CANCELLED)
    if ticket.status == "refunded":
        return Verdict(ScanResult.REFUNDED)
    if ticket.status != "valid":
        return Verdict(ScanResult.VOIDED)
    ents = ticket.entitlements or (
        EntitlementFacts(
            0,
            ticket.session_id,
            None,
            Mode.ENTRIES,
            ticket.entries_allowed,
            ticket.entries_used,
            window,
            last_entry_at=ticket.last_entry_at,
            last_gate=ticket.last_gate,
        ),
    )
    covered = [e for e in ents if covers(e, expected_session_ids, expected_event_ids)]
    if not covered:
        # A plain one-session ticket keeps the answer gates always gave; a pass says it covers nothing here.
        single = len(ents) == 1 and ents[0].session_id is not None
        return Verdict(ScanResult.WRONG_SESSION if single else ScanResult.NOT_COVERED)
    judged = [use_verdict(e, now, day) for e in covered]
    for v in judged:
        if v.admitted:
            return v
    # Nothing usable: say what is true now (used up) before what is true at another time (not yet, over).
    return next((v for v in judged if v.result in _IN_WINDOW_REFUSALS), judged[0])
