"""ticket_types.sold: each ticket type's own sales counter (a type without a quota has no pool to count them)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_types") as batch:
        batch.add_column(sa.Column("sold", sa.Integer(), nullable=False, server_default="0"))
    # What was sold before the counter existed: lines not refunded of orders that are paid (or partly refunded).
    op.execute(
        """
        UPDATE ticket_types SET sold = (
            SELECT count(*) FROM order_lines JOIN orders ON orders.id = order_lines.order_id
            WHERE order_lines.ticket_type_id = ticket_types.id AND order_lines.status = 'active'
              AND orders.status IN ('paid', 'partially_refunded')
        )
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("ticket_types") as batch:
        batch.drop_column("sold")
