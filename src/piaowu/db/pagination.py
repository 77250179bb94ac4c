"""Keyset (cursor) pagination over (created_at, id), newest first. Stable under inserts, no OFFSET scans."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.core.errors import ValidationFailed

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(created_at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([created_at.isoformat(), row_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = orjson.loads(raw)
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:  # we only ever write UTC cursors; a naive one was made by hand
            raise ValueError("naive cursor")
        return moment, str(row_id)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise ValidationFailed(
            [{"field": "cursor", "code": "invalid", "message": "The cursor is not valid."}]
        ) from None


async def paginate(
    session: AsyncSession, stmt: Select[Any], model: Any, cursor: str | None, limit: int, time_attr: str = "created_at"
) -> Page[Any]:
    """``model`` must have ``id`` and the timestamp column ``time_attr`` (ties are broken by id)."""
    limit = max(1, min(limit, 200))
    at_col = getattr(model, time_attr)
    if cursor:
        at, row_id = decode_cursor(cursor)
        stmt = stmt.where(or_(at_col < at, and_(at_col == at, model.id < row_id)))
    rows = list((await session.execute(stmt.order_by(at_col.desc(), model.id.desc()).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(getattr(rows[-1], time_attr), rows[-1].id) if more and rows else None)
