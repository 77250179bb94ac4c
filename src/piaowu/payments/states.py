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
