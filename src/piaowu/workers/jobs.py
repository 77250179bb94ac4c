"""The periodic jobs and the outbox handlers, wired by name."""

from __future__ import annotations

import functools

from piaowu.workers.runner import Job


def default_jobs(*, with_outbox: bool = True) -> list[tuple[str, Job]]:
    """The periodic jobs; ``with_outbox=False`` when the outbox runs in its own loop (``outbox_job``)."""
    from piaowu.workers import bulk, reconcile, sweeper

    jobs: list[tuple[str, Job]] = [
        ("expire_orders", sweeper.expire_orders),
        ("release_expired_holds", sweeper.release_expired_holds),
        ("bulk_jobs", bulk.run_bulk_jobs),
    ]
    if with_outbox:
        jobs.append(("outbox", outbox_job()))
    jobs.append(("reconcile_payments", reconcile.periodic))
    return jobs


def outbox_job() -> Job:
    """The outbox's own loop (``Worker(outbox=…)``) runs several drains at once, each a batch of one wave of
    deliveries, so that no message waits for a whole larger batch's slowest delivery."""
    from piaowu.workers import outbox_dispatch

    return functools.partial(outbox_dispatch.drain, batch=outbox_dispatch.CONCURRENCY)
