"""staffsessions: back-office page sessions kept on the server (``accounts.sessions``)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

One new table; nothing existing changes. Cookies signed before it name no session (they held a staff member's id):
their holders sign in again once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import piaowu.db.types

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("seen_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("created_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"], name=op.f("fk_staff_sessions_user_id_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_user_id"))
    op.drop_table("staff_sessions")
