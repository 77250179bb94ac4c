"""Ticket data crossing the area's edge: what orders pass in, what callers and the API get back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from piaowu.fields import InputModel
from piaowu.tickets.grant_rules import MAX_DAYS, MAX_ENTRIES, MAX_GRANTS, MAX_WINDOW_DAYS


class TicketStatus(StrEnum):
    VALID = "valid"  # may be used at a gate (until its entries are used up)
    REFUNDED = "refunded"  # its order line was refunded
    VOID = "void"  # cancelled for another reason (exchange, operator action)


@dataclass(frozen=True)
class TicketSpec:
    """One ticket to issue, in plain values (the orders area calls ``issue`` with these)."""

    order_id: str
    order_line_id: str
    session_id: str
    valid_from: datetime
    valid_until: datetime
    entries_allowed: int = 1  # without grants: the one entitlement's entries
    ticket_type_name: str = ""  # shown at the gate and printed on the ticket
    holder_name: str = ""  # real-name tickets: the holder; otherwise empty
    ticket_type_id: str = ""  # its grants (ticket_type_grants) decide the entitlements; none: its session
    seat: tuple[str, str, str] | None = None  # an assigned seat (section, row, number), signed into the QR


class EntitlementOut(BaseModel):
    """One thing a ticket admits to, and how much of it is used."""

    position: int
    session_id: str | None = Field(description="The session it admits to (a session grant).")
    event_id: str | None = Field(description="The event — an attraction — any of whose sessions it admits to.")
    label: str = Field(description="The target's name when the ticket was issued.")
    mode: Literal["entries", "days"]
    allowed: int = Field(description="Entries (mode entries) or distinct local days (mode days).")
    used: int
    days_used: list[str] = Field(default_factory=list, description="Local days counted (mode days), ISO dates.")
    valid_from: datetime
    valid_until: datetime
    last_entry_at: datetime | None = None
    last_gate: str = ""


class TicketSeat(BaseModel):
    """An assigned seat as printed on the ticket."""

    section: str
    row: str
    number: str

    @classmethod
    def of(cls, seat: tuple[str, str, str] | None) -> TicketSeat | None:
        return None if seat is None else cls(section=seat[0], row=seat[1], number=seat[2])


class TicketOut(BaseModel):
    id: str
    code: str
    order_id: str
    order_line_id: str
    session_id: str
    status: str
    entries_allowed: int
    entries_used: int
    valid_from: datetime
    valid_until: datetime
    issued_at: datetime
    last_entry_at: datetime | None
    last_gate: str
    ticket_type_name: str
    holder_name: str
    qr_payload: str  # the signed string encoded in the QR code (tickets.signing)
    entitlements: list[EntitlementOut] = Field(
        default_factory=list, description="What it admits to; `entries_allowed`/`entries_used` are their sums."
    )
    seat: TicketSeat | None = Field(default=None, description="The assigned seat; null for general admission.")


class PublicKeyOut(BaseModel):
    """What an offline gate needs to verify this organizer's tickets."""

    organizer_id: str
    slug: str
    algorithm: str = "Ed25519"
    public_key: str  # raw 32-byte key, base64url without padding
    payload_format: str = "PW2.<base64url(JSON claims)>.<base64url(signature over 'PW2.<claims part>')>"
    claims: dict[str, str] = {
        "c": "ticket code",
        "o": "organizer id",
        "f": "valid from (Unix seconds, UTC): the earliest opening of its entitlements",
        "u": "valid until (Unix seconds, UTC): the latest closing of its entitlements",
        "g": "what it covers: 's:<session id>' or 'e:<event id>' per entitlement, in order",
    }
    older_formats: dict[str, str] = {
        "PW1": "tickets issued before passes: claims c, s (session id), o, f, u, n (entries allowed); the same "
        "signature scheme over 'PW1.<claims part>'. Still valid: it covers 's:<s>'."
    }


@dataclass(frozen=True)
class EntitlementView:
    """One entitlement as the gate sees it (plain values, read fresh)."""

    id: str
    position: int
    session_id: str | None
    event_id: str | None
    label: str
    mode: str
    allowed: int
    used: int
    valid_from: datetime
    valid_until: datetime
    days_used: tuple[str, ...]
    last_entry_at: datetime | None
    last_gate: str


@dataclass(frozen=True)
class GateView:
    """A ticket as the gate sees it: enough for the check-in rules, nothing about the sale."""

    id: str
    code: str
    session_id: str
    status: str
    entries_allowed: int
    entries_used: int
    valid_from: datetime
    valid_until: datetime
    last_entry_at: datetime | None
    last_gate: str
    ticket_type_name: str
    holder_name: str
    entitlements: tuple[EntitlementView, ...] = ()
    seat: tuple[str, str, str] | None = None  # from the ticket's signed payload


@dataclass(frozen=True)
class Redemption:
    """What one redemption did: ``consumed`` a use (an entry, or a new day), or re-entered on a counted day."""

    entitlement_id: str
    consumed: bool


class GrantIn(InputModel):
    """One line of a ticket type's grants: a target (exactly one of ``session_id`` / ``event_id``), a mode and a
    number."""

    session_id: str | None = Field(default=None, max_length=26, description="Admits to this session.")
    event_id: str | None = Field(
        default=None, max_length=26, description="Admits to any session of this event (an attraction)."
    )
    mode: Literal["entries", "days"] = Field(
        default="entries", description="`entries`: `allowed` admissions; `days`: `allowed` distinct local days."
    )
    allowed: int = Field(default=1, ge=1, le=max(MAX_ENTRIES, MAX_DAYS))
    window_days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_WINDOW_DAYS,
        description="Event grants only (required there): the window in local days, from the day of the ticket's "
        "own session.",
    )


class GrantsIn(InputModel):
    """The whole grant definition of a ticket type (replaces the previous one). Empty: its own session, as a
    ticket without grants."""

    grants: list[GrantIn] = Field(max_length=MAX_GRANTS)


class GrantOut(BaseModel):
    position: int
    session_id: str | None
    event_id: str | None
    mode: str
    allowed: int
    window_days: int | None


class GrantsOut(BaseModel):
    ticket_type_id: str
    grants: list[GrantOut] = Field(description="Empty: a ticket of this type admits once to its own session.")


@dataclass(frozen=True)
class TicketUse:
    """What the gates did with the ticket of one order line (what a refund needs to know)."""

    order_line_id: str
    ticket_id: str
    code: str
    status: str
    entries_used: int
    last_entry_at: datetime | None
    last_gate: str


@dataclass(frozen=True)
class SessionTicketCounts:
    """Counted from the tickets, so that they agree with the scans: an entry stays an entry after a refund."""

    tickets: int  # valid tickets, plus tickets refunded or voided after an entry (their holder came in)
    checked_in: int  # of those, used at least once (single-entry tickets: = admitted scans)
    refunded_after_entry: int = 0  # of the checked-in ones, refunded or voided since (the used-ticket override)
