from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, IdMixin
from piaowu.db.types import UTCDateTime


class Scan(IdMixin, Base):
    """Every scan at a gate, admitted or not (append-only)."""

    __tablename__ = "checkin_scans"
    __table_args__ = (Index("ix_checkin_scans_org_at", "organizer_id", "scanned_at"),)

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"))
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id"), nullable=True)
    raw: Mapped[str] = mapped_column(String(600))
    gate: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8), default="in")
    result: Mapped[str] = mapped_column(String(32))  # admitted or a rejection code
    actor: Mapped[str] = mapped_column(String(80))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime())
