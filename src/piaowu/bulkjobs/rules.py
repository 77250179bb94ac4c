"""Bulk job states, item outcomes and the progress arithmetic. Pure: imports only ``core``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class JobKind(StrEnum):
    SESSION_CANCEL = "session.cancel"


class JobStatus(StrEnum):
    RUNNING = "running"  # work left (or failures being retried); the worker loop picks it up
    DONE = "done"  # every subject handled; failures, if any, are listed in the report and can be retried


class ItemStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"  # its transaction was rolled back; nothing of it happened; listed for a retry
    RETRY = "retry"  # an operator asked for a failed subject to be tried again


class Outcome(StrEnum):
    CANCELLED = "cancelled"  # a pending order cancelled, its hold released
    REFUNDED = "refunded"  # a paid order's money refunded in full
    SKIPPED = "skipped"  # nothing to do (already cancelled, expired or refunded)


@dataclass(frozen=True)
class Counts:
    """How one handled subject changes a job's counters."""

    processed: int = 0
    cancelled: int = 0
    refunded: int = 0
    skipped: int = 0
    failed: int = 0
    refunded_minor: int = 0


def counts_for(outcome: str | None, amount_minor: int = 0, *, retried_failure: bool = False) -> Counts:
    """Counter deltas for one subject: ``outcome`` None means it failed. A retried failure was already counted as
    processed and failed once, so its success moves it from failed to its outcome (and a new failure changes
    nothing)."""
    processed = 0 if retried_failure else 1
    if outcome is None:
        return Counts(processed=processed, failed=0 if retried_failure else 1)
    back = -1 if retried_failure else 0
    return Counts(
        processed=processed,
        cancelled=int(outcome == Outcome.CANCELLED),
        refunded=int(outcome == Outcome.REFUNDED),
        skipped=int(outcome == Outcome.SKIPPED),
        failed=back,
        refunded_minor=amount_minor if outcome == Outcome.REFUNDED else 0,
    )


def percent(processed: int, total: int, status: str) -> int:
    """Progress for a bar: 100 only when the job is done (more subjects may appear while it runs)."""
    if status == JobStatus.DONE:
        return 100
    if total <= 0:
        return 0
    return min(99, processed * 100 // total)
