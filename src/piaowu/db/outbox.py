"""The transactional outbox: side effects are written in the same transaction and run after commit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
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


def enqueue(
    session: AsyncSession,
    now: datetime,
    topic: str,
    payload: dict[str, Any],
    delay_s: float = 0,
    *,
    message_id: str | None = None,
) -> str:
    """``message_id``: an id the caller drew beforehand (to point at the message in a write that may not happen)."""
    msg_id = message_id or new_id()
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


@dataclass(frozen=True)
class Claimed:
    """A claimed message as plain values (no ORM entity: the handler needs only these)."""

    id: str
    topic: str
    payload: dict[str, Any]
    attempts: int


async def claim_batch(
    session: AsyncSession,
    now: datetime,
    limit: int = 20,
    lease_s: float = 60,
    *,
    topics: Collection[str] | None = None,
    skip_topics: Collection[str] = (),
) -> list[Claimed]:
    """Claim up to ``limit`` due messages with a lease, in ONE statement (``UPDATE … RETURNING``).

    Safe with several workers: on PostgreSQL the inner SELECT skips rows another claimer has locked, and the
    outer WHERE repeats the "unclaimed" condition, which PostgreSQL re-checks against a row that changed while
    the statement waited for it, so a message is never handed to two claimers within its lease. SQLite runs
    one writer at a time. ``topics`` / ``skip_topics``: a process that delivers only some topics (the sandbox
    gateway's own process delivers its notifications; the server then skips them)."""
    due = (
        (OutboxMessage.status == "pending")
        & (OutboxMessage.available_at <= now)
        & ((OutboxMessage.claimed_until.is_(None)) | (OutboxMessage.claimed_until < now))
    )
    if topics is not None:
        due = due & OutboxMessage.topic.in_(list(topics))
    if skip_topics:
        due = due & OutboxMessage.topic.not_in(list(skip_topics))
    # A CTE evaluated once (MATERIALIZED): as a subquery of the IN, PostgreSQL may run the pick again for each
    # row the UPDATE visits, and a rescan skips the rows this statement already updated — so it claimed past
    # ``limit`` (three of three due with a limit of two; tests/integration/test_outbox_deliveries.py).
    pick = (
        select(OutboxMessage.id)
        .where(due)
        .order_by(OutboxMessage.available_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("pick")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    rows = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(select(pick.c.id)), due)
        .values(claimed_until=now + timedelta(seconds=lease_s))
        .returning(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.payload, OutboxMessage.attempts)
        .execution_options(synchronize_session=False)
    )
    return [Claimed(r.id, r.topic, r.payload, r.attempts) for r in rows]


async def mark_done(session: AsyncSession, ids: Sequence[str]) -> None:
    """Mark a batch done in one statement."""
    if ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(ids)))
            .values(status="done", claimed_until=None)
            .execution_options(synchronize_session=False)
        )


async def mark_failed(session: AsyncSession, msg: Claimed, now: datetime, error: str) -> None:
    """One failed message: retried later with backoff, or ``dead`` after ``MAX_ATTEMPTS``."""
    attempts = msg.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": error[:2000], "claimed_until": None}
    if attempts >= MAX_ATTEMPTS:
        values["status"] = "dead"
    else:
        values["available_at"] = now + timedelta(seconds=min(2**attempts, 300))
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == msg.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
