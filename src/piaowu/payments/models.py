from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, CreatedMixin, IdMixin
from piaowu.db.types import JSONType, UTCDateTime


class Payment(IdMixin, CreatedMixin, Base):
    """One attempt to collect money for an order through one provider."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref"),
        # reconciliation looks for payments not in a final state, and recent abandoned ones
        Index("ix_payments_status_created_at", "status", "created_at"),
    )

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # payments.states.PaymentStatus
    amount_minor: Mapped[int] = mapped_column(Integer)
    refunded_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    provider_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the gateway's trade number
    redirect_url: Mapped[str] = mapped_column(String(500), default="")
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(80), default="")


class Refund(IdMixin, CreatedMixin, Base):
    __tablename__ = "refunds"

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # payments.states.RefundStatus
    reason: Mapped[str] = mapped_column(String(200), default="")
    provider_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # What the provider answered when it refused (failed): shown to staff beside the retry.
    error: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # The outbox message now asking the provider for it (an online refund): a pending refund whose message gave
    # up (``dead``) is stuck until staff retry it. No foreign key: the outbox is the db layer's own table.
    outbox_id: Mapped[str | None] = mapped_column(String(26), nullable=True)


class PaymentNotification(IdMixin, Base):
    """Every provider callback we accepted, keyed by the provider's notification id (deduplication)."""

    __tablename__ = "payment_notifications"
    __table_args__ = (UniqueConstraint("provider", "notification_id"),)

    provider: Mapped[str] = mapped_column(String(32))
    notification_id: Mapped[str] = mapped_column(String(100))
    payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"), nullable=True)
    outcome: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PaymentReconciliation(IdMixin, Base):
    """What reconciliation found about one payment on one day (in PIAOWU_TIMEZONE): the provider's record
    against ours, what was done, and the outcome (matched / fixed / open). One row per payment and day, updated
    by every later check that day: the back-office page and the daily summary for finance read it."""

    __tablename__ = "payment_reconciliations"
    __table_args__ = (
        UniqueConstraint("payment_id", "day"),
        Index("ix_payment_reconciliations_day_outcome", "day", "outcome"),
    )

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    order_code: Mapped[str] = mapped_column(String(32), default="")
    day: Mapped[date] = mapped_column(Date)
    provider: Mapped[str] = mapped_column(String(32))
    provider_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    # ours before the check: the payment's and the order's status
    payment_status: Mapped[str] = mapped_column(String(16))
    order_status: Mapped[str] = mapped_column(String(24))
    # the provider's: paid / not_paid / none (no such trade) / error
    provider_status: Mapped[str] = mapped_column(String(16))
    provider_amount_minor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mismatch: Mapped[str] = mapped_column(String(32))  # payments.reconcile_rules.Mismatch
    action: Mapped[str] = mapped_column(String(32))  # what was done: none, paid, revived, refunded_late, ...
    outcome: Mapped[str] = mapped_column(String(16))  # payments.reconcile_rules.Outcome
    detail: Mapped[str] = mapped_column(String(300), default="")
    checks: Mapped[int] = mapped_column(Integer, default=1)
    first_checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SandboxTransaction(Base):
    """The sandbox gateway's own ledger. It stands for an external system: our payment code reaches it only
    through the provider protocol, as it would reach a real gateway."""

    __tablename__ = "sandbox_gateway_transactions"

    trade_no: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_ref: Mapped[str] = mapped_column(String(64), unique=True)  # our payment id
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    subject: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16))  # created, paid, closed
    refunded_minor: Mapped[int] = mapped_column(Integer, default=0)
    notify_url: Mapped[str] = mapped_column(String(500))
    return_url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
