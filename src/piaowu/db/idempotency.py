"""Idempotency keys for POSTs that create orders, payments or refunds.

The key row is inserted in the same transaction as the thing it protects, so a retry either sees the stored
response or races on the unique constraint (and then sees it). A key reused with a different request body is
an error, not a silent replay.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.core.errors import DomainError, IdempotencyConflict, IdempotencyInProgress
from piaowu.db.base import Base, IdMixin
from piaowu.db.types import JSONType, UTCDateTime
from piaowu.db.uow import UnitOfWork, UnitsOfWork


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


@dataclass(frozen=True)
class Answer:
    status_code: int
    response: dict[str, Any]
    replayed: bool  # the stored answer of an earlier (or concurrent) request with the same key


async def run_once(
    uows: UnitsOfWork,
    scope: str,
    key: str,
    fingerprint: str,
    status_code: int,
    use_case: Callable[[UnitOfWork], Awaitable[dict[str, Any]]],
) -> Answer:
    """Run a creating use case at most once per (scope, key) — the one implementation behind the API's
    ``Idempotency-Key`` and the shop form's one-time token.

    The key's row is written in the use case's own transaction. Two concurrent requests with one key: both run,
    one commits, the other fails on the unique key at commit, rolls back (its units are released with it) and
    answers with the stored response of the first. A request whose use case is refused (DomainError) answers the
    winner's response when a twin with the key won meanwhile (it took what this one needed, e.g. the last
    units): the client sent one request twice. A key reused with another body raises IdempotencyConflict; a twin
    still running, IdempotencyInProgress."""
    async with uows() as uow:
        seen = await lookup(uow.session, scope, key, fingerprint)
        if seen is not None:
            return Answer(seen.status_code, dict(seen.response), True)
        try:
            payload = await use_case(uow)
        except DomainError:
            await uow.rollback()
            winner = await stored(uows, scope, key, fingerprint)
            if winner is None:
                raise
            return winner
        remember(uow.session, uow.now(), scope, key, fingerprint, status_code, payload)
        try:
            await uow.commit()
        except IntegrityError:
            await uow.rollback()  # a concurrent twin won; its answer is the one
        else:
            return Answer(status_code, payload, False)
    winner = await stored(uows, scope, key, fingerprint)
    if winner is None:
        raise IdempotencyInProgress()
    return winner


async def stored(uows: UnitsOfWork, scope: str, key: str, fingerprint: str) -> Answer | None:
    """The answer stored for this key, if a request with it committed (IdempotencyConflict for another body)."""
    async with uows(readonly=True) as uow:
        seen = await lookup(uow.session, scope, key, fingerprint)
    return None if seen is None else Answer(seen.status_code, dict(seen.response), True)
