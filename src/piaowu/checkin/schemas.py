"""Check-in requests and responses (the API and the gate page share them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from piaowu.fields import InputModel, Name
from piaowu.tickets.schemas import EntitlementOut, TicketSeat


class ScanIn(InputModel):
    """One scan at a gate: the QR payload or a typed ticket code, and what this gate admits."""

    raw: str = Field(min_length=1, max_length=2000, description="The scanned QR string or the typed ticket code.")
    gate: Name = Field(default="main", min_length=1, max_length=64, description="The gate's name, kept with the scan.")
    session_ids: list[str] = Field(
        default_factory=list, max_length=50, description="Sessions this gate admits; empty = any of the organizer's."
    )
    direction: Literal["in"] = "in"


class TicketSummary(BaseModel):
    code: str
    session_id: str
    event_name: str = ""
    session_name: str = ""
    starts_at: datetime | None = None
    ticket_type_name: str = ""
    holder_name: str = ""
    seat: TicketSeat | None = Field(default=None, description="The assigned seat; null for general admission.")
    entries_allowed: int = Field(description="The sum of its entitlements' `allowed`.")
    entries_used: int = Field(description="Uses counted over all its entitlements (a re-entry on a counted day: none).")
    entitlements: list[EntitlementOut] = Field(
        default_factory=list, description="What the ticket admits to, as it is after this scan."
    )


class PreviousEntry(BaseModel):
    at: datetime | None
    gate: str


class ScanOut(BaseModel):
    """The verdict. ``result`` is a stable code; ``message`` is the sentence for the gate, in the caller's
    language (``message_key`` is its English original)."""

    result: str
    admitted: bool
    message_key: str
    message: str = ""
    scanned_at: datetime
    gate: str
    ticket: TicketSummary | None = None  # absent for invalid tickets: nothing is confirmed about unknown codes
    previous: PreviousEntry | None = None  # already_checked_in / days_used_up: the last entry
    opens_at: datetime | None = None  # not_yet_valid: when admission opens
    entitlement: int | None = Field(
        default=None,
        description="The `position` of the entitlement this scan judged: admitted, the one it redeemed; refused, the "
        "one whose state is the reason. Absent for not_covered, invalid and cancelled tickets.",
    )
    reentry: bool = Field(
        default=False, description="Admitted on a day a multi-day pass had already counted: no day was used."
    )
    new_seat: TicketSeat | None = Field(
        default=None,
        description="`replaced`: the seat the ticket is for now (its seat was exchanged and a new code issued; "
        "the new code is not told).",
    )


class ScanRecord(BaseModel):
    id: str
    scanned_at: datetime
    gate: str
    direction: str
    result: str
    ticket_code: str | None
    session_id: str | None
    actor: str


class CheckinStats(BaseModel):
    session_ids: list[str]
    tickets: int = Field(
        description="Tickets of these sessions that admit or admitted someone: the valid ones, plus those refunded "
        "or voided after they were used at a gate."
    )
    checked_in: int = Field(
        description="Of those, how many have been used at a gate; an entry stays counted when its ticket is "
        "refunded afterwards, so for single-entry tickets this equals the admitted scans."
    )
    refunded_after_entry: int = Field(
        default=0, description="Of the checked-in tickets, how many were refunded or voided afterwards."
    )
    scans_admitted: int = Field(description="Admitted scans (since `since`, if given).")
    scans_rejected: int = Field(description="Rejected scans (since `since`, if given).")
    since: datetime | None = None
