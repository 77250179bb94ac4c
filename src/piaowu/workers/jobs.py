"""The periodic jobs and the outbox handlers, wired by name."""

from __future__ import annotations

from piaowu.workers.runner import Job


def default_jobs() -> list[tuple[str, Job]]:
    from piaowu.workers import bulk, outbox_dispatch, reconcile, sweeper

    return [
        ("expire_orders", sweeper.expire_orders),
        ("release_expired_holds", sweeper.release_expired_holds),
        ("bulk_jobs", bulk.run_bulk_jobs),
        ("outbox", outbox_dispatch.drain),
        ("reconcile_payments", reconcile.periodic),
    ]
