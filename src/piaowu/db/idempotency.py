"""Idempotency keys for POSTs that create orders, payments or refunds.

The key row is inserted in the same transaction as the thing it protects, so a retry either sees the stored
response or races on the unique constraint (and then sees it). A key reused with a different request body is
an error, not a silent replay.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.core.errors import IdempotencyConflict
from piaowu.db.base import Base, IdMixin
from piaowu.db.types import JSONType, UTCDateTime


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    scope: Mapped[str] = mapped_column(String(120))  # organizer + actor + route
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


def request_fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def lookup(session: AsyncSession, scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
    row = (
        await session.execute(
            select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        )
    ).scalar_one_or_none()
    if row is not None and row.request_hash != fingerprint:
        raise IdempotencyConflict()
    return row


def remember(
    session: AsyncSession,
    now: datetime,
    scope: str,
    key: str,
    fingerprint: str,
    status_code: int,
    response: dict[str, Any],
) -> None:
    session.add(
        IdempotencyRecord(
            scope=scope, key=key, request_hash=fingerprint, status_code=status_code, response=response, created_at=now
        )
    )
