"""Bulk jobs: a long operation split into one transaction per subject, resumable after a crash.

Guarantees:
- a subject is handled at most once per job: its item row is inserted in the same transaction as the subject's
  change (unique on job and subject), so a crash between subjects loses nothing and a resumed job repeats
  nothing;
- one worker at a time works on a job (a lease, renewed in every subject's transaction, which also locks the
  job row); a worker that died leaves a lease that runs out, and the next worker resumes where it stopped;
- the counters are updated in the subject's transaction, so they always agree with the items;
- a failed subject changes nothing (its transaction was rolled back); it is recorded as failed, listed, and
  tried again when an operator asks for a retry.

What a job does with each subject is not decided here: the worker loop (``workers/bulk.py``) calls the kind's
handler (e.g. ``orders.session_cancel``) between ``begin_item`` and ``end_item``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.bulkjobs import repository as repo
from piaowu.bulkjobs.models import BulkJob, BulkJobItem
from piaowu.bulkjobs.rules import ItemStatus, JobStatus, counts_for, percent
from piaowu.bulkjobs.schemas import BulkJobOut, JobFailure
from piaowu.core.actor import Actor, system_actor
from piaowu.core.errors import NotFound
from piaowu.core.ids import new_id
from piaowu.db.statements import insert_ignore
from piaowu.db.uow import UnitOfWork

LEASE_SECONDS = 60


class LeaseLost(Exception):
    """Another worker took the job over (this one was too slow or presumed dead): stop working on it."""


@dataclass(frozen=True)
class ItemClaim:
    """This transaction owns one subject of a job (until it commits or rolls back)."""

    job_id: str
    subject_id: str
    item_id: str
    retried: bool  # a failed subject tried again


async def create(
    uow: UnitOfWork,
    actor: Actor,
    *,
    kind: str,
    target_id: str,
    total: int,
    currency: str,
    reason: str = "",
) -> BulkJob:
    """A running job, written in the caller's transaction (so it exists exactly when the change that needs it
    committed). The worker loop picks it up."""
    job = BulkJob(
        organizer_id=actor.organizer_id,
        kind=kind,
        target_id=target_id,
        status=JobStatus.RUNNING,
        reason=reason[:200],
        total=total,
        currency=currency,
        report={},
        created_by=actor.ref[:80],
        created_at=uow.now(),
    )
    uow.session.add(job)
    await uow.session.flush()
    record(
        uow, actor, "bulk_job.created", "bulk_job", job.id, after={"kind": kind, "target": target_id, "total": total}
    )
    return job


async def for_target(uow: UnitOfWork, organizer_id: str, kind: str, target_id: str) -> BulkJobOut | None:
    job = await repo.for_target(uow.session, organizer_id, kind, target_id)
    return await _out(uow, job) if job else None


async def _out(uow: UnitOfWork, job: BulkJob) -> BulkJobOut:
    failing = [
        *await repo.items_with_status(uow.session, job.id, ItemStatus.FAILED),
        *await repo.items_with_status(uow.session, job.id, ItemStatus.RETRY),
    ]
    return BulkJobOut(
        id=job.id,
        kind=job.kind,
        target_id=job.target_id,
        status=job.status,
        reason=job.reason,
        total=job.total,
        processed=job.processed,
        cancelled=job.cancelled,
        refunded=job.refunded,
        skipped=job.skipped,
        failed=job.failed,
        refunded_minor=job.refunded_minor,
        currency=job.currency,
        percent=percent(job.processed, job.total, job.status),
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        failures=[
            JobFailure(subject_id=i.subject_id, label=i.label, error=i.error, attempts=i.attempts, status=i.status)
            for i in failing
        ],
        report=job.report or {},
    )


async def retry_failed(uow: UnitOfWork, actor: Actor, job_id: str) -> int:
    """Queue the job's failed subjects for another attempt (the job runs again). → how many."""
    actor.require(Permission.REFUND)
    job = await repo.job(uow.session, actor.organizer_id, job_id)
    if job is None:
        raise NotFound(kind="job")
    n = await repo.mark_for_retry(uow.session, job.id)
    if n:
        await repo.reopen(uow.session, job.id)
    record(uow, actor, "bulk_job.retry", "bulk_job", job.id, after={"subjects": n})
    return n


# ---- the worker's side -----------------------------------------------------------------------------------


async def due(uow: UnitOfWork, owner: str, limit: int = 10) -> list[str]:
    return await repo.due(uow.session, uow.now(), owner, limit)


async def take_lease(uow: UnitOfWork, job_id: str, owner: str) -> BulkJob | None:
    """The job, leased to ``owner`` — or None when another live worker has it or it is finished."""
    now = uow.now()
    if not await repo.take_lease(uow.session, job_id, owner, now, now + timedelta(seconds=LEASE_SECONDS)):
        return None
    return await repo.job_any_tenant(uow.session, job_id)


async def unhandled(uow: UnitOfWork, job_id: str, subject_ids: list[str]) -> list[str]:
    done = await repo.handled_among(uow.session, job_id, subject_ids)
    return [s for s in subject_ids if s not in done]


async def retry_subjects(uow: UnitOfWork, job_id: str, limit: int = 100) -> list[str]:
    return [i.subject_id for i in await repo.items_with_status(uow.session, job_id, ItemStatus.RETRY, limit)]


async def begin_item(uow: UnitOfWork, job_id: str, owner: str, subject_id: str) -> ItemClaim | None:
    """Claim one subject in the caller's transaction, before changing it. None: the subject was already handled
    (before a crash, or by a worker that took over). Raises LeaseLost when this worker no longer holds the job."""
    now = uow.now()
    if not await repo.renew_lease(uow.session, job_id, owner, now + timedelta(seconds=LEASE_SECONDS)):
        raise LeaseLost(job_id)
    existing = await repo.item(uow.session, job_id, subject_id)
    if existing is not None:
        if existing.status != ItemStatus.RETRY:
            return None
        return ItemClaim(job_id, subject_id, existing.id, retried=True)
    item_id = new_id()
    row = {
        "id": item_id,
        "job_id": job_id,
        "subject_id": subject_id,
        "status": ItemStatus.DONE.value,
        "outcome": "",
        "amount_minor": 0,
        "label": "",
        "error": "",
        "attempts": 0,
        "processed_at": now,
    }
    if not await insert_ignore(uow.session, BulkJobItem.__table__, row):
        return None
    return ItemClaim(job_id, subject_id, item_id, retried=False)


async def end_item(uow: UnitOfWork, claim: ItemClaim, *, outcome: str, amount_minor: int, label: str) -> None:
    """Record what the subject's transaction did (same transaction as the change itself)."""
    values: dict[str, Any] = {
        "status": ItemStatus.DONE.value,
        "outcome": outcome,
        "amount_minor": amount_minor,
        "label": label[:80],
        "processed_at": uow.now(),
        "attempts": BulkJobItem.attempts + 1,
    }
    await repo.set_item(uow.session, claim.item_id, ItemStatus.RETRY if claim.retried else ItemStatus.DONE, **values)
    await repo.add_counts(uow.session, claim.job_id, counts_for(outcome, amount_minor, retried_failure=claim.retried))


async def fail_item(uow: UnitOfWork, job_id: str, owner: str, subject_id: str, *, label: str, error: str) -> bool:
    """In a fresh transaction, after the subject's own was rolled back: the subject is listed as failed."""
    now = uow.now()
    if not await repo.renew_lease(uow.session, job_id, owner, now + timedelta(seconds=LEASE_SECONDS)):
        raise LeaseLost(job_id)
    existing = await repo.item(uow.session, job_id, subject_id)
    values = {"status": ItemStatus.FAILED.value, "label": label[:80], "error": error[:2000], "processed_at": now}
    if existing is None:
        uow.session.add(BulkJobItem(job_id=job_id, subject_id=subject_id, attempts=1, **values))
        await uow.session.flush()
        await repo.add_counts(uow.session, job_id, counts_for(None))
    elif existing.status == ItemStatus.RETRY:
        await repo.set_item(uow.session, existing.id, ItemStatus.RETRY, attempts=existing.attempts + 1, **values)
    else:
        return False
    job = await repo.job_any_tenant(uow.session, job_id)
    assert job is not None
    actor = system_actor(job.organizer_id, "bulk-jobs")
    record(uow, actor, "bulk_job.item_failed", "bulk_job", job_id, after={"subject": subject_id, "error": error[:500]})
    return True


async def finish(uow: UnitOfWork, job_id: str, owner: str, report: dict[str, Any]) -> bool:
    """Running → done with the final report, once no subject is left (failures stay listed for a retry)."""
    job = await repo.job_any_tenant(uow.session, job_id)
    if job is None:
        return False
    full = {
        "orders": job.processed,
        "cancelled": job.cancelled,
        "refunded": job.refunded,
        "skipped": job.skipped,
        "failed": job.failed,
        "refunded_minor": job.refunded_minor,
        "currency": job.currency,
        "failures": [i.subject_id for i in await repo.items_with_status(uow.session, job_id, ItemStatus.FAILED)],
        **report,
    }
    if not await repo.finish(uow.session, job_id, owner, uow.now(), full):
        return False
    actor = system_actor(job.organizer_id, "bulk-jobs")
    record(uow, actor, "bulk_job.finished", "bulk_job", job_id, before={"status": "running"}, after=full)
    return True
