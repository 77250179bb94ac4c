"""Payment reconciliation: what to make of the provider's answer about one of our payments. Pure.

Reconciliation asks the provider about every payment that may still change (see orders/reconciliation.py) and
compares. Money the provider took that we did not record is applied through the notification path (which
revives the order or refunds in full); anything else that disagrees is left *open* for finance, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from piaowu.payments.states import PaymentStatus, RefundStatus


class Mismatch(StrEnum):
    NONE = "none"  # the provider's record and ours agree
    PAID_NOT_RECORDED = "paid_not_recorded"  # the provider took the money; we say pending / cancelled / failed
    NOT_PAID_AT_PROVIDER = "not_paid_at_provider"  # we say succeeded; the provider says it was never paid
    AMOUNT_DIFFERS = "amount_differs"  # paid, but not the amount (or currency) we asked for
    QUERY_FAILED = "query_failed"  # the provider could not be asked (network, unknown trade)
    REFUND_PENDING = "refund_pending"  # a refund we owe has not gone through at the provider yet
    REFUND_FAILED = "refund_failed"  # the provider refused a refund we owe


class Outcome(StrEnum):
    MATCHED = "matched"  # nothing to do
    FIXED = "fixed"  # this run (or a later one) put it right
    OPEN = "open"  # a person must look


@dataclass(frozen=True)
class ProviderState:
    """The provider's answer about one trade."""

    paid: bool
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class Verdict:
    mismatch: Mismatch
    apply: bool  # feed the provider's confirmation to the notification path
    outcome: Outcome  # the outcome when nothing is applied


def judge(
    our_status: str, amount_minor: int, currency: str, provider: ProviderState | None, *, query_failed: bool = False
) -> Verdict:
    """Compare our payment (status, amount) with the provider's record of it. ``provider`` None: it has none —
    no money was taken (a trade never created, or closed unpaid), which agrees with anything but "succeeded"."""
    if query_failed:
        return Verdict(Mismatch.QUERY_FAILED, False, Outcome.OPEN)
    status = PaymentStatus(our_status)
    if provider is None or not provider.paid:
        if status == PaymentStatus.SUCCEEDED:
            return Verdict(Mismatch.NOT_PAID_AT_PROVIDER, False, Outcome.OPEN)
        return Verdict(Mismatch.NONE, False, Outcome.MATCHED)
    if provider.amount_minor != amount_minor or provider.currency != currency:
        return Verdict(Mismatch.AMOUNT_DIFFERS, False, Outcome.OPEN)
    if status == PaymentStatus.SUCCEEDED:
        return Verdict(Mismatch.NONE, False, Outcome.MATCHED)
    if status in (PaymentStatus.PENDING, PaymentStatus.CANCELLED):
        return Verdict(Mismatch.PAID_NOT_RECORDED, True, Outcome.FIXED)
    # FAILED: we told the buyer no, yet the provider took the money; the notification path will not take it
    return Verdict(Mismatch.PAID_NOT_RECORDED, False, Outcome.OPEN)


def refund_verdict(statuses_and_times: list[tuple[str, datetime]], now: datetime, grace: timedelta) -> Verdict | None:
    """A payment's refunds (status, created at): a failed one, or one pending longer than ``grace`` (the outbox
    normally pays it out within seconds), is open. None when every refund is done or young."""
    if any(status == RefundStatus.FAILED for status, _ in statuses_and_times):
        return Verdict(Mismatch.REFUND_FAILED, False, Outcome.OPEN)
    if any(status == RefundStatus.PENDING and at <= now - grace for status, at in statuses_and_times):
        return Verdict(Mismatch.REFUND_PENDING, False, Outcome.OPEN)
    return None


def applied_outcome(result: str | None) -> Outcome:
    """After feeding a confirmation to the notification path: a result (paid, revived, refunded…) means this run
    fixed it; None means another delivery or run applied it first — the records agree now."""
    return Outcome.FIXED if result else Outcome.MATCHED


def merge(previous: str | None, new: Outcome) -> Outcome:
    """The day's outcome of one payment after another check: once records that disagreed (fixed, or open) are
    found in agreement, the day counts the payment as fixed — that is what fixing means; a payment found wrong
    again is open; otherwise the latest check is the truth."""
    if previous in (Outcome.FIXED, Outcome.OPEN) and new == Outcome.MATCHED:
        return Outcome.FIXED
    return new
