"""Run bulk jobs (``bulkjobs``): one subject per transaction, under a lease, resumable after a crash.

Each tick a worker takes the lease of the running jobs nobody else holds (or its own), handles up to
``max_items`` subjects, and leaves the rest for its next tick. A worker that dies keeps its lease until it runs
out (``bulkjobs.service.LEASE_SECONDS``); then another worker takes over and carries on from the first subject
without an item. A subject that fails is rolled back, recorded as failed, and the job goes on with the others.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from piaowu.bulkjobs import service as bulkjobs
from piaowu.bulkjobs.rules import JobKind
from piaowu.core.ids import new_id
from piaowu.orders import session_cancel
from piaowu.runtime import Runtime

log = logging.getLogger("piaowu.bulk")

BATCH = 100
# Tests inject a callable here, run inside each subject's transaction just before its commit (e.g. to kill the
# worker halfway, at the worst moment).
HOOK_KEY = "bulk_job_hook"


@dataclass(frozen=True)
class Handler:
    subjects: Callable[[Any, Any, str | None, int], Awaitable[list[str]]]
    process: Callable[[Any, Any, str], Awaitable[Any]]
    label: Callable[[Any, Any, str], Awaitable[str]]
    report: Callable[[Any, Any], Awaitable[dict[str, Any]]]
    ref: Callable[..., Any]


HANDLERS: dict[str, Handler] = {
    JobKind.SESSION_CANCEL: Handler(
        subjects=session_cancel.subjects,
        process=session_cancel.process_order,
        label=session_cancel.label,
        report=session_cancel.report,
        ref=session_cancel.JobRef,
    ),
}


def worker_id(rt: Runtime) -> str:
    """This process's name on leases (one per runtime: a restarted process is another worker)."""
    wid = rt.extras.get("bulk_worker_id")
    if wid is None:
        wid = rt.extras["bulk_worker_id"] = f"{socket.gethostname()[:30]}:{os.getpid()}:{new_id()[-8:]}"
    return str(wid)


async def run_bulk_jobs(rt: Runtime, max_items: int = 200) -> int:
    """One tick: work on the due jobs. → subjects handled."""
    owner = worker_id(rt)
    async with rt.uow(readonly=True) as uow:
        due = await bulkjobs.due(uow, owner)
    handled = 0
    for job_id in due:
        if handled >= max_items:
            break
        async with rt.uow() as uow:
            job = await bulkjobs.take_lease(uow, job_id, owner)
            await uow.commit()
        if job is None:
            continue
        handler = HANDLERS.get(job.kind)
        if handler is None:
            log.error("bulk job %s has an unknown kind %s", job.id, job.kind)
            continue
        ref = handler.ref(job.id, job.organizer_id, job.target_id, job.reason)
        try:
            handled += await _run_job(rt, handler, ref, owner, max_items - handled)
        except bulkjobs.LeaseLost:
            log.warning("bulk job %s was taken over by another worker", job_id)
    return handled


async def _run_job(rt: Runtime, handler: Handler, ref: Any, owner: str, budget: int) -> int:
    n = 0
    async with rt.uow(readonly=True) as uow:
        retries = await bulkjobs.retry_subjects(uow, ref.id)
    after: str | None = None
    while True:
        if retries:
            batch, retries = retries, []
        else:
            async with rt.uow(readonly=True) as uow:
                candidates = await handler.subjects(uow, ref, after, BATCH)
                if not candidates:
                    break
                after = candidates[-1]
                batch = await bulkjobs.unhandled(uow, ref.id, candidates)
        for subject in batch:
            if n >= budget:
                return n  # the lease stays ours: the next tick goes on
            await _one(rt, handler, ref, owner, subject)
            n += 1
    async with rt.uow() as uow:
        await bulkjobs.finish(uow, ref.id, owner, await handler.report(uow, ref))
        await uow.commit()
    return n


async def _one(rt: Runtime, handler: Handler, ref: Any, owner: str, subject: str) -> None:
    hook = rt.extras.get(HOOK_KEY)
    try:
        async with rt.uow() as uow:
            claim = await bulkjobs.begin_item(uow, ref.id, owner, subject)
            if claim is None:
                return  # handled already (before a crash)
            done = await handler.process(uow, ref, subject)
            await bulkjobs.end_item(uow, claim, outcome=done.outcome, amount_minor=done.amount_minor, label=done.label)
            if hook is not None:
                hook(ref.id, subject)
            await uow.commit()
    except bulkjobs.LeaseLost:
        raise
    except Exception as exc:  # this subject's transaction rolled back; list it and go on with the others
        log.warning("bulk job %s: %s failed: %s", ref.id, subject, exc)
        async with rt.uow() as uow:
            await bulkjobs.fail_item(
                uow,
                ref.id,
                owner,
                subject,
                label=await handler.label(uow, ref, subject),
                error=f"{type(exc).__name__}: {exc}",
            )
            await uow.commit()
