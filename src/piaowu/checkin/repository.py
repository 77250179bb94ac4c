"""All queries on scans."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.checkin.models import Scan
from piaowu.checkin.rules import ScanResult


async def recent(session: AsyncSession, organizer_id: str, limit: int, gate: str | None = None) -> list[Scan]:
    q = select(Scan).where(Scan.organizer_id == organizer_id)
    if gate:
        q = q.where(Scan.gate == gate)
    q = q.order_by(Scan.scanned_at.desc(), Scan.id.desc()).limit(limit)
    return list((await session.execute(q)).scalars())


async def scan_counts(
    session: AsyncSession, organizer_id: str, session_ids: Sequence[str], since: datetime | None
) -> tuple[int, int]:
    """→ (admitted, rejected). Rejections with no known session (invalid codes) count only organizer-wide."""
    admitted = case((Scan.result == ScanResult.ADMITTED, 1), else_=0)
    q = select(func.coalesce(func.sum(admitted), 0), func.count(Scan.id)).where(Scan.organizer_id == organizer_id)
    if session_ids:
        q = q.where(Scan.session_id.in_(list(session_ids)))
    if since is not None:
        q = q.where(Scan.scanned_at >= since)
    ok, total = (await session.execute(q)).one()
    return int(ok or 0), int(total or 0) - int(ok or 0)
