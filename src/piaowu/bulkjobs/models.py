from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from piaowu.db.base import Base, CreatedMixin, IdMixin
from piaowu.db.types import JSONType, UTCDateTime


class BulkJob(IdMixin, CreatedMixin, Base):
    """A long operation over many subjects (orders), run by the worker loop one subject per transaction.

    ``lease_owner``/``lease_until``: the process working on it; another process takes over only after the lease
    ran out (the first one died). The counters are updated in the same transaction as each subject's change, so
    they always agree with the items."""

    __tablename__ = "bulk_jobs"
    # One job per kind and target: a session is cancelled once.
    __table_args__ = (UniqueConstraint("kind", "target_id"), Index("ix_bulk_jobs_status", "status"))

    organizer_id: Mapped[str] = mapped_column(ForeignKey("organizers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # bulkjobs.rules.JobKind
    target_id: Mapped[str] = mapped_column(String(26))
    status: Mapped[str] = mapped_column(String(16))  # bulkjobs.rules.JobStatus
    reason: Mapped[str] = mapped_column(String(200), default="")
    total: Mapped[int] = mapped_column(Integer, default=0)  # subjects known when the job started (grows if more)
    processed: Mapped[int] = mapped_column(Integer, default=0)  # subjects with an item (done or failed)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    refunded: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    refunded_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    report: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(80), default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class BulkJobItem(IdMixin, Base):
    """One subject of a job, written in the transaction that changed the subject: its existence is the proof
    that the subject was handled, so a resumed job neither repeats nor skips one."""

    __tablename__ = "bulk_job_items"
    __table_args__ = (
        UniqueConstraint("job_id", "subject_id"),
        Index("ix_bulk_job_items_job_status", "job_id", "status"),
    )

    job_id: Mapped[str] = mapped_column(ForeignKey("bulk_jobs.id"))
    subject_id: Mapped[str] = mapped_column(String(26))  # an order id
    status: Mapped[str] = mapped_column(String(16))  # bulkjobs.rules.ItemStatus
    outcome: Mapped[str] = mapped_column(String(16), default="")  # bulkjobs.rules.Outcome
    amount_minor: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(80), default="")  # e.g. the order code, for the report
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime())
