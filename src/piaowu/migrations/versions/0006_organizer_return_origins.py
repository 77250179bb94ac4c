"""organizers.return_origins: the origins of an organizer's own sites to which a payment may send the buyer back

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    with op.batch_alter_table("organizers") as batch:
        # Existing organizers list no origin of their own: this server's and the installation's still apply.
        batch.add_column(sa.Column("return_origins", json_type, nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("organizers") as batch:
        batch.drop_column("return_origins")
