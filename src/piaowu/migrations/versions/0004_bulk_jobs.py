"""bulk_jobs and bulk_job_items: resumable, leased bulk jobs (session cancellation)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 11:32:17.906233
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import piaowu.db.types
from sqlalchemy import Text  # noqa: F401  (autogenerate renders JSONB(astext_type=Text()))
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "bulk_jobs",
        sa.Column("organizer_id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=26), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("refunded", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("refunded_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("report", sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", piaowu.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("started_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("created_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organizer_id"], ["organizers.id"], name=op.f("fk_bulk_jobs_organizer_id_organizers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_jobs")),
        sa.UniqueConstraint("kind", "target_id", name=op.f("uq_bulk_jobs_kind_target_id")),
    )
    with op.batch_alter_table("bulk_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulk_jobs_organizer_id"), ["organizer_id"], unique=False)
        batch_op.create_index("ix_bulk_jobs_status", ["status"], unique=False)

    op.create_table(
        "bulk_job_items",
        sa.Column("job_id", sa.String(length=26), nullable=False),
        sa.Column("subject_id", sa.String(length=26), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("processed_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["bulk_jobs.id"], name=op.f("fk_bulk_job_items_job_id_bulk_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_job_items")),
        sa.UniqueConstraint("job_id", "subject_id", name=op.f("uq_bulk_job_items_job_id_subject_id")),
    )
    with op.batch_alter_table("bulk_job_items", schema=None) as batch_op:
        batch_op.create_index("ix_bulk_job_items_job_status", ["job_id", "status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("bulk_job_items", schema=None) as batch_op:
        batch_op.drop_index("ix_bulk_job_items_job_status")

    op.drop_table("bulk_job_items")
    with op.batch_alter_table("bulk_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_bulk_jobs_status")
        batch_op.drop_index(batch_op.f("ix_bulk_jobs_organizer_id"))

    op.drop_table("bulk_jobs")
