from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, CreatedMixin, IdMixin


class Organizer(IdMixin, CreatedMixin, Base):
    """A tenant: a theatre, a scenic area, a promoter. Every other row belongs to exactly one."""

    __tablename__ = "organizers"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    # Ed25519 ticket-signing key: private half encrypted at rest (AES-256-GCM with the app secret).
    signing_key_encrypted: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)  # raw 32 bytes, base64url
