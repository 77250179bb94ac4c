from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, CreatedMixin, IdMixin
from piaowu.db.types import UTCDateTime


class StaffUser(IdMixin, CreatedMixin, Base):
    __tablename__ = "staff_users"

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))  # see accounts.permissions.Role
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApiToken(IdMixin, CreatedMixin, Base):
    """A bearer token ``pw_<prefix>_<secret>``; only the SHA-256 of the whole token is stored."""

    __tablename__ = "api_tokens"

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StaffSession(IdMixin, CreatedMixin, Base):
    """A signed-in page session of a staff member. The signed cookie names it (``id``); signing out, a new password
    or ``accounts.sessions.LIFETIME`` unused ends it here, so a copy of the cookie kept after that opens nothing."""

    __tablename__ = "staff_sessions"

    user_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())  # last written use (at most every TOUCH_EVERY)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
