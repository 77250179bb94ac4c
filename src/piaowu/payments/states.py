"""Payment and refund states. Pure."""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    PENDING = "pending"  # sent to the provider; waiting for its notification
    SUCCEEDED = "succeeded"  # money received (applied to the order exactly once)
    FAILED = "failed"  # the provider said no
    CANCELLED = "cancelled"  # abandoned (order closed before the buyer paid)


class RefundStatus(StrEnum):
    PENDING = "pending"  # asked for; the provider call runs after commit (outbox)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the provider refused; finance must look (kept, never silently dropped)


def refundable(amount_minor: int, refunded_minor: int) -> int:
    return max(0, amount_minor - refunded_minor)


# The outbox message that asks the provider for a refund, as far as a retry cares: ``dead`` once it gave up after
# its last attempt (db/outbox.py), None when there is none to be found.
GAVE_UP = "dead"


class RetryRefusal(StrEnum):
    """Why a refund cannot be asked of its provider again."""

    PAID_OUT = "succeeded"  # the provider paid it: asking again could only pay it twice
    IN_PROGRESS = "in_progress"  # pending, and the outbox is still asking (it retries by itself, with backoff)


def is_stuck(status: str, message_status: str | None) -> bool:
    """A refund still owed that nothing will ask the provider for again: pending, while the outbox message that
    asked for it gave up (or there is none)."""
    return status == RefundStatus.PENDING and (message_status is None or message_status == GAVE_UP)


def retry_refusal(status: str, message_status: str | None) -> RetryRefusal | None:
    """None when the refund may be asked for again: the provider refused it (failed), or it is stuck."""
    if status == RefundStatus.FAILED or is_stuck(status, message_status):
        return None
    if status == RefundStatus.SUCCEEDED:
        return RetryRefusal.PAID_OUT
    return RetryRefusal.IN_PROGRESS
