"""Bulk job responses (API and pages share them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class JobFailure(BaseModel):
    subject_id: str  # an order id
    label: str  # the order code
    error: str
    attempts: int
    status: str  # failed, or retry (waiting for the worker)


class BulkJobOut(BaseModel):
    id: str
    kind: str
    target_id: str
    status: str  # running, done
    reason: str
    total: int
    processed: int
    cancelled: int
    refunded: int
    skipped: int
    failed: int
    refunded_minor: int
    currency: str
    percent: int
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    failures: list[JobFailure]
    report: dict[str, Any]
