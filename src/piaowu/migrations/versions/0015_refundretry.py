"""refundretry: a refund keeps the provider's refusal (refunds.error) and its outbox message (refunds.outbox_id)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

Both are filled for the refunds that staff may now retry: a failed refund gets the provider's answer from its
``refund.failed`` audit event, a pending one the newest outbox message that asks for it (so a message that gave
up shows the refund as stuck). Only those rows are touched: succeeded refunds need neither.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
refunds = sa.table(
    "refunds",
    sa.column("id", sa.String),
    sa.column("organizer_id", sa.String),
    sa.column("status", sa.String),
    sa.column("error", sa.String),
    sa.column("outbox_id", sa.String),
)
outbox = sa.table(
    "outbox", sa.column("id", sa.String), sa.column("topic", sa.String), sa.column("payload", JSON),
    sa.column("created_at", sa.DateTime),
)  # fmt: skip
audit = sa.table(
    "audit_events", sa.column("organizer_id", sa.String), sa.column("action", sa.String),
    sa.column("subject_type", sa.String), sa.column("subject_id", sa.String), sa.column("after", JSON),
    sa.column("at", sa.DateTime), sa.column("id", sa.String),
)  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error", sa.String(length=300), server_default="", nullable=False))
        batch_op.add_column(sa.Column("outbox_id", sa.String(length=26), nullable=True))
    newest_message = (
        sa.select(outbox.c.id)
        .where(outbox.c.topic == "refund.requested", outbox.c.payload["refund_id"].as_string() == refunds.c.id)
        .order_by(outbox.c.created_at.desc(), outbox.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    op.execute(refunds.update().where(refunds.c.status == "pending").values(outbox_id=newest_message))
    refusal = (
        sa.select(sa.func.substr(audit.c.after["error"].as_string(), 1, 300))
        .where(
            audit.c.organizer_id == refunds.c.organizer_id,
            audit.c.subject_type == "refund",
            audit.c.subject_id == refunds.c.id,
            audit.c.action == "refund.failed",
        )
        .order_by(audit.c.at.desc(), audit.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    op.execute(refunds.update().where(refunds.c.status == "failed").values(error=sa.func.coalesce(refusal, "")))


def downgrade() -> None:
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_column("outbox_id")
        batch_op.drop_column("error")
