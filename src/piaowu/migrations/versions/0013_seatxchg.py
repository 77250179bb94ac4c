"""seatxchg: the codes tickets had before a seat exchange reissued them (the gate answers "replaced")

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

One new table; nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import piaowu.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_replaced_codes",
        sa.Column("organizer_id", sa.String(length=26), nullable=False),
        sa.Column("ticket_id", sa.String(length=26), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("replaced_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["organizers.id"], name=op.f("fk_ticket_replaced_codes_organizer_id_organizers")
        ),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_replaced_codes_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_replaced_codes")),
        sa.UniqueConstraint("organizer_id", "code", name=op.f("uq_ticket_replaced_codes_organizer_id_code")),
    )
    with op.batch_alter_table("ticket_replaced_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_replaced_codes_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_replaced_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_replaced_codes_ticket_id"))
    op.drop_table("ticket_replaced_codes")
