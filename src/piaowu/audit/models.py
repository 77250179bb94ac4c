from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, IdMixin
from piaowu.db.types import JSONType, UTCDateTime


class AuditEvent(IdMixin, Base):
    """Append-only log of state changes, written in the same transaction as the change."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_subject", "organizer_id", "subject_type", "subject_id"),
        Index("ix_audit_org_at", "organizer_id", "at"),
    )

    organizer_id: Mapped[str | None] = mapped_column(String(26), nullable=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(26))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
