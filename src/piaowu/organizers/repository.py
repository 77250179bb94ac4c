from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.organizers.models import Organizer


async def get(session: AsyncSession, organizer_id: str) -> Organizer | None:
    return await session.get(Organizer, organizer_id)


def sealed_key_of(organizer_id: Any) -> Any:
    """The organizer's sealed signing key as a scalar subquery (``organizer_id``: a value or a parameter): the
    one column a ticket issue needs, for a read that brings it along with its own (``tickets.repository``)."""
    return select(Organizer.signing_key_encrypted).where(Organizer.id == organizer_id).scalar_subquery()


_SEALED_KEY = select(sealed_key_of(bindparam("id")))  # built once


async def sealed_key(session: AsyncSession, organizer_id: str) -> str | None:
    """The one column a ticket issue needs, read fresh (not the whole entity, not the identity map)."""
    return (await session.execute(_SEALED_KEY, {"id": organizer_id})).scalar_one_or_none()


async def by_slug(session: AsyncSession, slug: str) -> Organizer | None:
    return (await session.execute(select(Organizer).where(Organizer.slug == slug))).scalar_one_or_none()


async def list_all(session: AsyncSession) -> list[Organizer]:
    return list((await session.execute(select(Organizer).order_by(Organizer.created_at))).scalars())
