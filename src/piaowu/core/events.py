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


# The topics that are written to the outbox: those with a handler (workers/outbox_dispatch.HANDLERS; a unit test
# keeps the two equal). order.paid / .expired / .cancelled are facts already kept where they matter — the audit
# log and the order's row — and are not queued until something reacts to them (a row, a claim and a mark per
# order for nothing). order.session_cancelled stays: it is written by a resumable bulk job, once per affected
# buyer, and is the only record of whom the (later) notification sender must tell; it is off the sale path.
QUEUED: frozenset[str] = frozenset({Topic.REFUND_REQUESTED, Topic.SANDBOX_CALLBACK, Topic.ORDER_SESSION_CANCELLED})
