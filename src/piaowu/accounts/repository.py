from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.accounts.models import ApiToken, StaffSession, StaffUser


async def user_by_email(session: AsyncSession, email: str) -> StaffUser | None:
    return (await session.execute(select(StaffUser).where(StaffUser.email == email))).scalar_one_or_none()


async def user(session: AsyncSession, organizer_id: str, user_id: str) -> StaffUser | None:
    return (
        await session.execute(select(StaffUser).where(StaffUser.id == user_id, StaffUser.organizer_id == organizer_id))
    ).scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: str) -> StaffUser | None:
    return await session.get(StaffUser, user_id)


async def users(session: AsyncSession, organizer_id: str) -> list[StaffUser]:
    q = select(StaffUser).where(StaffUser.organizer_id == organizer_id).order_by(StaffUser.created_at)
    return list((await session.execute(q)).scalars())


# Built once: building a statement and walking it for its cache key on every call cost more CPU than running it
# (py-spy, bench/flash_sale.py --mode paid). A prebuilt statement's cache key is computed once.
_TOKEN_BY_PREFIX = select(
    ApiToken.id,
    ApiToken.organizer_id,
    ApiToken.name,
    ApiToken.role,
    ApiToken.token_hash,
    ApiToken.last_used_at,
    ApiToken.revoked_at,
).where(ApiToken.prefix == bindparam("prefix"))


async def token_by_prefix(session: AsyncSession, prefix: str) -> Any | None:
    """What checking a bearer token needs, as plain columns (every API request but the cached create reads it)."""
    return (await session.execute(_TOKEN_BY_PREFIX, {"prefix": prefix})).one_or_none()


async def tokens(session: AsyncSession, organizer_id: str) -> list[ApiToken]:
    q = select(ApiToken).where(ApiToken.organizer_id == organizer_id).order_by(ApiToken.created_at)
    return list((await session.execute(q)).scalars())


async def token(session: AsyncSession, organizer_id: str, token_id: str) -> ApiToken | None:
    q = select(ApiToken).where(ApiToken.id == token_id, ApiToken.organizer_id == organizer_id)
    return (await session.execute(q)).scalar_one_or_none()


async def touch_token(session: AsyncSession, token_id: str, now: datetime, older_than: datetime) -> None:
    await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= older_than))
        .values(last_used_at=now)
    )


async def live_session_user(
    session: AsyncSession, session_id: str, seen_after: datetime
) -> tuple[StaffUser, datetime] | None:
    """The staff member of a page session that has not ended and was used after ``seen_after``, and its last use."""
    q = (
        select(StaffUser, StaffSession.seen_at)
        .join(StaffSession, StaffSession.user_id == StaffUser.id)
        .where(StaffSession.id == session_id, StaffSession.ended_at.is_(None), StaffSession.seen_at > seen_after)
    )
    row = (await session.execute(q)).one_or_none()
    return None if row is None else (row[0], row[1])


async def touch_session(session: AsyncSession, session_id: str, now: datetime) -> None:
    await session.execute(
        update(StaffSession).where(StaffSession.id == session_id, StaffSession.ended_at.is_(None)).values(seen_at=now)
    )


async def end_sessions(session: AsyncSession, now: datetime, *, session_id: str = "", user_id: str = "") -> None:
    """Ends one page session, or every live one of a staff member."""
    where = StaffSession.id == session_id if session_id else StaffSession.user_id == user_id
    await session.execute(update(StaffSession).where(where, StaffSession.ended_at.is_(None)).values(ended_at=now))


async def forget_sessions(session: AsyncSession, user_id: str, unused_since: datetime) -> None:
    """Deletes a staff member's page sessions that are over: ended, or unused since ``unused_since``."""
    await session.execute(
        delete(StaffSession).where(
            StaffSession.user_id == user_id,
            or_(StaffSession.ended_at.is_not(None), StaffSession.seen_at <= unused_since),
        )
    )
