"""seatchan: seats published per sales channel (inventory_units.withheld, session_seating.channels_version)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

Two columns, 0 by default: every existing seat stays on sale through every channel.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inventory_units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withheld", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_check_constraint(op.f("ck_inventory_units_withheld_nonneg"), "withheld >= 0")
    with op.batch_alter_table("session_seating", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channels_version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("session_seating", schema=None) as batch_op:
        batch_op.drop_column("channels_version")
    with op.batch_alter_table("inventory_units", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_inventory_units_withheld_nonneg"), type_="check")
        batch_op.drop_column("withheld")
