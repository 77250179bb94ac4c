"""The periodic jobs and the outbox handlers, wired by name."""

from __future__ import annotations

import functools

from piaowu.workers.runner import Job, OutboxFeed


def default_jobs(*, with_outbox: bool = True) -> list[tuple[str, Job]]:
    """The periodic jobs; ``with_outbox=False`` when the outbox runs in its own loop (``outbox_job``)."""
    from piaowu.workers import bulk, reconcile, sweeper

    jobs: list[tuple[str, Job]] = [
        ("expire_orders", sweeper.expire_orders),
        ("release_expired_holds", sweeper.release_expired_holds),
        ("bulk_jobs", bulk.run_bulk_jobs),
    ]
    if with_outbox:
        jobs.append(("outbox", outbox_drain()))
    jobs.append(("reconcile_payments", reconcile.periodic))
    return jobs


def outbox_drain() -> Job:
    """The outbox as a periodic job (``default_jobs(with_outbox=True)``): one round of deliveries per run."""
    from piaowu.workers import outbox_dispatch

    return functools.partial(outbox_dispatch.drain, batch=outbox_dispatch.CONCURRENCY)


def outbox_job() -> OutboxFeed:
    """The outbox's own loop (``Worker(outbox=…)``): each message's delivery starts when it is claimed, without
    waiting for other deliveries (``outbox_dispatch.Deliveries``)."""
    from piaowu.workers import outbox_dispatch

    return outbox_dispatch.Deliveries()
