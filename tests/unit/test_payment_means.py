"""What a confirmed payment does to its order: one rule (``payment_flow.payment_means``) for the move to paid
that rides in the payment's mark (``_paying``) and for ``apply_confirmed``, which decides everything else."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from piaowu.catalog.rules import SessionStatus
from piaowu.orders.payment_flow import PaymentMeans, payment_means
from piaowu.orders.states import OrderStatus

S = OrderStatus
ON_SALE = {"s1": SimpleNamespace(status=SessionStatus.ON_SALE)}
ONE_CANCELLED = {**ON_SALE, "s2": SimpleNamespace(status=SessionStatus.CANCELLED)}


@pytest.mark.parametrize(
    ("status", "means"),
    [
        (S.PENDING, PaymentMeans.PAY),  # the hold is confirmed
        (S.EXPIRED, PaymentMeans.PAY),  # a late payment: revived if its units can be taken again
        (S.CANCELLED, PaymentMeans.PAY),
        (S.PAID, PaymentMeans.REFUND_DUPLICATE),
        (S.PARTIALLY_REFUNDED, PaymentMeans.REFUND_DUPLICATE),
        (S.REFUNDED, PaymentMeans.REFUSE),
    ],
)
def test_what_a_payment_means_for_each_state(status: OrderStatus, means: PaymentMeans) -> None:
    assert payment_means(status, ON_SALE) == means


@pytest.mark.parametrize("status", list(OrderStatus))
def test_a_cancelled_session_refunds_whatever_the_state(status: OrderStatus) -> None:
    assert payment_means(status, ONE_CANCELLED) == PaymentMeans.REFUND_SESSION_CANCELLED
