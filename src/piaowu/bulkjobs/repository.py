"""All queries on bulk jobs and their items."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from piaowu.bulkjobs.models import BulkJob, BulkJobItem
from piaowu.bulkjobs.rules import Counts, ItemStatus, JobStatus


async def job(session: AsyncSession, organizer_id: str, job_id: str) -> BulkJob | None:
    q = select(BulkJob).where(BulkJob.id == job_id, BulkJob.organizer_id == organizer_id)
    return (await session.execute(q)).scalar_one_or_none()


async def job_any_tenant(session: AsyncSession, job_id: str) -> BulkJob | None:
    """Only for the worker loop, which serves every organizer."""
    return (await session.execute(select(BulkJob).where(BulkJob.id == job_id))).scalar_one_or_none()


async def for_target(session: AsyncSession, organizer_id: str, kind: str, target_id: str) -> BulkJob | None:
    q = select(BulkJob).where(
        BulkJob.organizer_id == organizer_id, BulkJob.kind == kind, BulkJob.target_id == target_id
    )
    return (await session.execute(q)).scalar_one_or_none()


async def due(session: AsyncSession, now: datetime, owner: str, limit: int) -> list[str]:
    """Running jobs this worker may work on: its own, or with no live lease (never leased, or its owner died)."""
    q = (
        select(BulkJob.id)
        .where(BulkJob.status == JobStatus.RUNNING)
        .where(or_(BulkJob.lease_owner == owner, BulkJob.lease_until.is_(None), BulkJob.lease_until < now))
        .order_by(BulkJob.created_at)
        .limit(limit)
    )
    return list((await session.execute(q)).scalars())


async def take_lease(session: AsyncSession, job_id: str, owner: str, now: datetime, until: datetime) -> bool:
    """Conditional: only one worker holds a job's lease; a lapsed lease (dead worker) can be taken over."""
    res = await session.execute(
        update(BulkJob)
        .where(BulkJob.id == job_id, BulkJob.status == JobStatus.RUNNING)
        .where(or_(BulkJob.lease_owner == owner, BulkJob.lease_until.is_(None), BulkJob.lease_until < now))
        .values(lease_owner=owner, lease_until=until, started_at=func.coalesce(BulkJob.started_at, now))
    )
    return res.rowcount == 1


async def renew_lease(session: AsyncSession, job_id: str, owner: str, until: datetime) -> bool:
    """Keeps the lease and locks the job row until commit; False when another worker took the job over."""
    res = await session.execute(
        update(BulkJob)
        .where(BulkJob.id == job_id, BulkJob.lease_owner == owner, BulkJob.status == JobStatus.RUNNING)
        .values(lease_until=until)
    )
    return res.rowcount == 1


async def add_counts(session: AsyncSession, job_id: str, c: Counts) -> None:
    await session.execute(
        update(BulkJob)
        .where(BulkJob.id == job_id)
        .values(
            processed=BulkJob.processed + c.processed,
            cancelled=BulkJob.cancelled + c.cancelled,
            refunded=BulkJob.refunded + c.refunded,
            skipped=BulkJob.skipped + c.skipped,
            failed=BulkJob.failed + c.failed,
            refunded_minor=BulkJob.refunded_minor + c.refunded_minor,
            # Subjects that appeared after the start (a sale that raced the cancellation) raise the total.
            total=case(
                (BulkJob.total < BulkJob.processed + c.processed, BulkJob.processed + c.processed),
                else_=BulkJob.total,
            ),
        )
    )


async def item(session: AsyncSession, job_id: str, subject_id: str) -> BulkJobItem | None:
    q = select(BulkJobItem).where(BulkJobItem.job_id == job_id, BulkJobItem.subject_id == subject_id)
    return (await session.execute(q)).scalar_one_or_none()


async def set_item(session: AsyncSession, item_id: str, only_from: str, **values: Any) -> bool:
    res = await session.execute(
        update(BulkJobItem).where(BulkJobItem.id == item_id, BulkJobItem.status == only_from).values(**values)
    )
    return res.rowcount == 1


async def handled_among(session: AsyncSession, job_id: str, subject_ids: Sequence[str]) -> set[str]:
    """Subjects that already have an item (done, failed or waiting for a retry)."""
    if not subject_ids:
        return set()
    q = select(BulkJobItem.subject_id).where(
        BulkJobItem.job_id == job_id, BulkJobItem.subject_id.in_(list(subject_ids))
    )
    return set((await session.execute(q)).scalars())


async def items_with_status(session: AsyncSession, job_id: str, status: str, limit: int = 1000) -> list[BulkJobItem]:
    q = (
        select(BulkJobItem)
        .where(BulkJobItem.job_id == job_id, BulkJobItem.status == status)
        .order_by(BulkJobItem.subject_id)
        .limit(limit)
    )
    return list((await session.execute(q)).scalars())


async def finish(session: AsyncSession, job_id: str, owner: str, now: datetime, report: dict[str, Any]) -> bool:
    res = await session.execute(
        update(BulkJob)
        .where(BulkJob.id == job_id, BulkJob.lease_owner == owner, BulkJob.status == JobStatus.RUNNING)
        .values(status=JobStatus.DONE, finished_at=now, lease_owner=None, lease_until=None, report=report)
    )
    return res.rowcount == 1


async def mark_for_retry(session: AsyncSession, job_id: str) -> int:
    res = await session.execute(
        update(BulkJobItem)
        .where(BulkJobItem.job_id == job_id, BulkJobItem.status == ItemStatus.FAILED)
        .values(status=ItemStatus.RETRY)
    )
    return res.rowcount


async def reopen(session: AsyncSession, job_id: str) -> bool:
    res = await session.execute(
        update(BulkJob)
        .where(BulkJob.id == job_id, BulkJob.status == JobStatus.DONE)
        .values(status=JobStatus.RUNNING, finished_at=None)
    )
    return res.rowcount == 1
