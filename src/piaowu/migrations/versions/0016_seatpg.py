"""seatpg: a partial index of the units whose first leg is in use, for a seated session's live states

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

Each worker selling a seated session reads the units of its pool that are held, sold or kept back about twice a
second (``seating.live``; ``inventory.repository.pool_unit_masks(in_use=1)``). Through ``ix_inventory_units_pool_id``
that read visited every unit of the pool — 80,192 for the bench's stadium, 1,719 pages, 37–50 ms of PostgreSQL
time per read on the shared machine — to return the few thousand in use; through this index it visits those only
(88 pages, 2 ms for 4,000 units in use). The condition is the read's word for word.

On PostgreSQL, statistics on the condition's expression too: without them the planner takes ``<> 0`` of an
expression to hold for 99.5 % of rows and may prefer a scan of the pool as the house fills.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

LEG0_IN_USE = sa.text("((occupied | blocked) & 1) != 0")


def upgrade() -> None:
    op.create_index(
        "ix_inventory_units_leg0_in_use",
        "inventory_units",
        ["pool_id"],
        postgresql_where=LEG0_IN_USE,
        sqlite_where=LEG0_IN_USE,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE STATISTICS st_inventory_units_leg0_in_use ON ((occupied | blocked) & 1) FROM inventory_units"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_inventory_units_leg0_in_use")
    op.drop_index("ix_inventory_units_leg0_in_use", table_name="inventory_units")
