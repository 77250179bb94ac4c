"""Outbox topics: what happened, for reactions that run after commit."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    ORDER_PAID = "order.paid"  # tickets issued; notify the buyer
    ORDER_EXPIRED = "order.expired"
    ORDER_CANCELLED = "order.cancelled"
    # The order's session was cancelled: its pending order was cancelled or its money refunded. One per order,
    # with the buyer's contact and the amounts: the contract for the (later) notification sender.
    ORDER_SESSION_CANCELLED = "order.session_cancelled"
    REFUND_REQUESTED = "refund.requested"  # ask the provider to refund, outside the transaction
    SANDBOX_CALLBACK = "sandbox.callback"  # the sandbox gateway's asynchronous notify
