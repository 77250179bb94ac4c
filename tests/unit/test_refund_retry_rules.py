"""Which refunds staff may ask the provider for again (payments.states, pure): only money still owed that
nothing else will pay — refused by the provider, or pending with the outbox given up (or no message at all)."""

from __future__ import annotations

import pytest

from piaowu.payments.states import RetryRefusal, is_stuck, retry_refusal


@pytest.mark.parametrize(
    ("status", "message", "stuck", "refusal"),
    [
        ("failed", "done", False, None),  # the provider said no: the message that asked is done
        ("failed", None, False, None),
        ("pending", "dead", True, None),  # the outbox gave up: nothing asks again by itself
        ("pending", None, True, None),  # no message asks for it at all
        ("pending", "pending", False, RetryRefusal.IN_PROGRESS),  # queued or waiting out a backoff
        ("succeeded", "done", False, RetryRefusal.PAID_OUT),
        ("succeeded", "dead", False, RetryRefusal.PAID_OUT),  # paid after all (e.g. by a later delivery)
    ],
)
def test_retry_is_offered_only_for_money_nothing_else_will_pay(
    status: str, message: str | None, stuck: bool, refusal: RetryRefusal | None
) -> None:
    assert is_stuck(status, message) is stuck
    assert retry_refusal(status, message) == refusal
