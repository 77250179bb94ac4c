from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
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
