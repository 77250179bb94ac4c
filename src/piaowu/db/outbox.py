"""The transactional outbox: side effects are written in the same transaction and run after commit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Index, Integer, String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.core.ids import new_id
from piaowu.db.base import Base, IdMixin
from piaowu.db.types import JSONType, UTCDateTime

MAX_ATTEMPTS = 8


class OutboxMessage(IdMixin, Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "available_at"),)

    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # pending → done | dead (after MAX_ATTEMPTS); a dead message is kept for an operator to look at.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


def enqueue(session: AsyncSession, now: datetime, topic: str, payload: dict[str, Any], delay_s: float = 0) -> str:
    msg_id = new_id()
    session.add(
        OutboxMessage(
            id=msg_id,
            topic=topic,
            payload=payload,
            created_at=now,
            available_at=now + timedelta(seconds=delay_s),
        )
    )
    return msg_id


async def claim_batch(
    session: AsyncSession, now: datetime, limit: int = 20, lease_s: float = 60
) -> list[OutboxMessage]:
    """Claim due messages with a lease. Safe with several workers: the claim is a conditional update."""
    rows = (
        (
            await session.execute(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.available_at <= now)
                .where((OutboxMessage.claimed_until.is_(None)) | (OutboxMessage.claimed_until < now))
                .order_by(OutboxMessage.available_at)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    claimed: list[OutboxMessage] = []
    for msg_id in rows:
        res = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == msg_id, OutboxMessage.status == "pending")
            .where((OutboxMessage.claimed_until.is_(None)) | (OutboxMessage.claimed_until < now))
            .values(claimed_until=now + timedelta(seconds=lease_s))
        )
        if res.rowcount == 1:
            claimed.append(await session.get_one(OutboxMessage, msg_id))
    return claimed


def mark_failed(msg: OutboxMessage, now: datetime, error: str) -> None:
    msg.attempts += 1
    msg.last_error = error[:2000]
    msg.claimed_until = None
    if msg.attempts >= MAX_ATTEMPTS:
        msg.status = "dead"
    else:
        msg.available_at = now + timedelta(seconds=min(2**msg.attempts, 300))


def mark_done(msg: OutboxMessage) -> None:
    msg.status = "done"
    msg.claimed_until = None
