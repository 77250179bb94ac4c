"""The gate's verdict on one scan. Pure: imports only ``core``.

The order of the checks is the order a steward needs the answer in: is it ours at all, was its session
cancelled, was it cancelled,
is it for this entrance, is it the right time, has it been used. "Already checked in" comes last so that it
is only said of a ticket that would otherwise be admitted (and then says when and where it was used).
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
}


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


@dataclass(frozen=True, slots=True)
class Window:
    """When a gate admits a session's tickets: [opens_at, closes_at]."""

    opens_at: datetime
    closes_at: datetime


def admission_window(starts_at: datetime, ends_at: datetime, admission_opens_minutes: int) -> Window:
    return Window(starts_at - timedelta(minutes=max(0, admission_opens_minutes)), ends_at)


@dataclass(frozen=True, slots=True)
class Verdict:
    result: ScanResult
    previous_at: datetime | None = None  # already_checked_in: the last entry
    previous_gate: str = ""
    opens_at: datetime | None = None  # not_yet_valid: when it will be

    @property
    def admitted(self) -> bool:
        return self.result is ScanResult.ADMITTED

    @property
    def message(self) -> str:
        return MESSAGES[self.result]


def verdict(
    ticket: TicketFacts | None,
    expected_session_ids: Collection[str],
    now: datetime,
    window: Window,
) -> Verdict:
    """Decide one scan. ``expected_session_ids`` empty means the gate admits every session of the organizer."""
    if ticket is None:
        return Verdict(ScanResult.INVALID_TICKET)
    if ticket.session_cancelled:  # first: whatever else is true of the ticket, this is what the holder must hear
        return Verdict(ScanResult.SESSION_CANCELLED)
    if ticket.status == "refunded":
        return Verdict(ScanResult.REFUNDED)
    if ticket.status != "valid":
        return Verdict(ScanResult.VOIDED)
    if expected_session_ids and ticket.session_id not in expected_session_ids:
        return Verdict(ScanResult.WRONG_SESSION)
    if now < window.opens_at:
        return Verdict(ScanResult.NOT_YET_VALID, opens_at=window.opens_at)
    if now > window.closes_at:
        return Verdict(ScanResult.EXPIRED)
    if ticket.entries_used >= ticket.entries_allowed:
        return Verdict(ScanResult.ALREADY_CHECKED_IN, previous_at=ticket.last_entry_at, previous_gate=ticket.last_gate)
    return Verdict(ScanResult.ADMITTED)
