from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, IdMixin
from piaowu.db.types import UTCDateTime


class Ticket(IdMixin, Base):
    """An issued ticket (出票): a random code, a signed payload, and how often it may still be used."""

    __tablename__ = "tickets"

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[str] = mapped_column(ForeignKey("order_lines.id"), unique=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="valid")  # valid, void, refunded
    # What it admits to is its entitlements (TicketEntitlement). These two are their sums, kept by every
    # redemption in the same transaction, so a refund (orders.refund_rules ``ticket_used``) and the check-in
    # counts see "used" when any entitlement was used without reading the entitlements. ``session_id`` is the
    # session it was sold for (its home: cancellation, reports, scans).
    entries_allowed: Mapped[int] = mapped_column(Integer, default=1)
    entries_used: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_entry_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_gate: Mapped[str] = mapped_column(String(64), default="")
    # The signed QR string (tickets.signing), stored at issue so that reading a ticket never needs the app
    # secret; Ed25519 is deterministic, so re-signing the same claims would give the same string anyway.
    qr_payload: Mapped[str] = mapped_column(Text, default="")
    # Snapshots shown at the gate and printed on the ticket (the order line keeps the sale's own copy).
    ticket_type_name: Mapped[str] = mapped_column(String(200), default="")
    holder_name: Mapped[str] = mapped_column(String(200), default="")


class TicketTypeGrant(IdMixin, Base):
    """One line of what a ticket type grants (tickets.grant_rules): a target session or event, a mode and a
    number. A ticket type without rows grants its own session, as tickets always did. Copied into each ticket's
    entitlements at issue, so changing a type's grants never changes a ticket already sold."""

    __tablename__ = "ticket_type_grants"
    __table_args__ = (UniqueConstraint("ticket_type_id", "position"),)

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    ticket_type_id: Mapped[str] = mapped_column(ForeignKey("ticket_types.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id"), nullable=True)
    event_id: Mapped[str | None] = mapped_column(ForeignKey("events.id"), nullable=True)
    mode: Mapped[str] = mapped_column(String(16))  # grant_rules.Mode
    allowed: Mapped[int] = mapped_column(Integer)
    window_days: Mapped[int | None] = mapped_column(Integer, nullable=True)


class TicketEntitlement(IdMixin, Base):
    """What one ticket admits to, redeemed on its own (tickets.redemption): ``used`` of ``allowed`` entries, or
    for a multi-day pass ``used`` of ``allowed`` distinct local days, listed in ``days_used``."""

    __tablename__ = "ticket_entitlements"
    __table_args__ = (
        UniqueConstraint("ticket_id", "position"),
        CheckConstraint("used >= 0 AND used <= allowed", name="used_range"),
    )

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # the order of the type's grants; 0 for a plain ticket
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id"), nullable=True, index=True)
    event_id: Mapped[str | None] = mapped_column(ForeignKey("events.id"), nullable=True)
    label: Mapped[str] = mapped_column(String(200), default="")  # snapshot of the target's name, for the gate
    mode: Mapped[str] = mapped_column(String(16), default="entries")
    allowed: Mapped[int] = mapped_column(Integer, default=1)
    used: Mapped[int] = mapped_column(Integer, default=0)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    # Counted days as ",2026-05-01,2026-05-03," (local dates): one column, so that "count this day unless it is
    # counted already" stays one conditional UPDATE (a LIKE on the day) with no second table to keep in step.
    days_used: Mapped[str] = mapped_column(Text, default="")
    last_entry_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_gate: Mapped[str] = mapped_column(String(64), default="")


class ReplacedCode(IdMixin, Base):
    """A code a ticket had before it was reissued (a seat exchange): the gate answers ``replaced`` for it,
    naming the ticket's seat now, instead of treating it as unknown. Only the code is kept — the old QR's
    signature still verifies, so what the scan names is this code."""

    __tablename__ = "ticket_replaced_codes"
    __table_args__ = (UniqueConstraint("organizer_id", "code"),)

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"))
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime())
