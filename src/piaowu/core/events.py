"""Outbox topics: what happened, for reactions that run after commit."""

from __future__ import annotations

from enum import StrEnum


class Topic(StrEnum):
    ORDER_PAID = "order.paid"  # tickets issued; notify the buyer
    ORDER_EXPIRED = "order.expired"
    ORDER_CANCELLED = "order.cancelled"
    REFUND_REQUESTED = "refund.requested"  # ask the provider to refund, outside the transaction
    SANDBOX_CALLBACK = "sandbox.callback"  # the sandbox gateway's asynchronous notify
