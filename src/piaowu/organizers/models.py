from __future__ import annotations

from sqlalchemy import String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, CreatedMixin, IdMixin
from piaowu.db.types import JSONType


class Organizer(IdMixin, CreatedMixin, Base):
    """A tenant: a theatre, a scenic area, a promoter. Every other row belongs to exactly one."""

    __tablename__ = "organizers"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    # The language the organizer writes its catalog in first (a BCP 47 tag of catalog.texts.CONTENT_LOCALES):
    # the plain ``name`` columns hold texts in it, and readers whose language is missing see it.
    default_locale: Mapped[str] = mapped_column(String(16), default="zh-CN", server_default="zh-CN")
    # Ed25519 ticket-signing key: private half encrypted at rest (AES-256-GCM with the app secret).
    signing_key_encrypted: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)  # raw 32 bytes, base64url
    # Origins of the organizer's own sites (``https://tickets.grand-theatre.cn``) to which a payment may send the
    # buyer back, normalized by core.inputs.clean_origin: a JSON list of strings.
    return_origins: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default=text("'[]'"))
