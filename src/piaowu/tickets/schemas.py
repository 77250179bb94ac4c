"""Ticket data crossing the area's edge: what orders pass in, what callers and the API get back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


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
    entries_allowed: int = 1
    ticket_type_name: str = ""  # shown at the gate and printed on the ticket
    holder_name: str = ""  # real-name tickets: the holder; otherwise empty


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


class PublicKeyOut(BaseModel):
    """What an offline gate needs to verify this organizer's tickets."""

    organizer_id: str
    slug: str
    algorithm: str = "Ed25519"
    public_key: str  # raw 32-byte key, base64url without padding
    payload_format: str = "PW1.<base64url(JSON claims)>.<base64url(signature over 'PW1.<claims part>')>"
    claims: dict[str, str] = {
        "c": "ticket code",
        "s": "session id",
        "o": "organizer id",
        "f": "valid from (Unix seconds, UTC)",
        "u": "valid until (Unix seconds, UTC)",
        "n": "entries allowed",
    }


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
