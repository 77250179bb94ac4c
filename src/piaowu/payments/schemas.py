"""Pydantic answers of the payments area."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class RefundOut(BaseModel):
    """A refund as staff see it (read from ``payments.service.RefundInfo``)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    order_id: str
    payment_id: str
    provider: str
    amount_minor: int
    currency: str
    status: str = Field(description="`pending` (the provider is being asked), `succeeded` (paid out) or `failed`")
    stuck: bool = Field(
        description="pending, but the outbox gave up asking the provider: nothing pays it unless it is retried"
    )
    retryable: bool = Field(description="`failed` or `stuck`: `POST /refunds/{id}/retry` asks the provider again")
    error: str = Field(description="the provider's refusal (`failed`), or why the last attempt failed (`pending`)")
    attempts: int = Field(description="failed attempts of the outbox message now asking the provider")
    reason: str = Field(description="why it was refunded")
    provider_ref: str | None
    created_at: datetime
    completed_at: datetime | None
