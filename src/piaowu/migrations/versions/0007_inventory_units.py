"""inventory units: seats, rooms, berths claimed per leg

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import piaowu.db.types


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inventory_units",
        sa.Column("organizer_id", sa.String(length=26), nullable=False),
        sa.Column("pool_id", sa.String(length=26), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("legs", sa.Integer(), nullable=False),
        sa.Column("occupied", sa.BigInteger(), nullable=False),
        sa.Column("blocked", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("created_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("blocked >= 0", name=op.f("ck_inventory_units_blocked_nonneg")),
        sa.CheckConstraint("legs >= 1 AND legs <= 63", name=op.f("ck_inventory_units_legs_range")),
        sa.CheckConstraint("occupied >= 0", name=op.f("ck_inventory_units_occupied_nonneg")),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["organizers.id"], name=op.f("fk_inventory_units_organizer_id_organizers")
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["inventory_pools.id"], name=op.f("fk_inventory_units_pool_id_inventory_pools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_units")),
    )
    with op.batch_alter_table("inventory_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inventory_units_organizer_id"), ["organizer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inventory_units_pool_id"), ["pool_id"], unique=False)

    op.create_table(
        "inventory_hold_units",
        sa.Column("hold_id", sa.String(length=26), nullable=False),
        sa.Column("unit_id", sa.String(length=26), nullable=False),
        sa.Column("mask", sa.BigInteger(), nullable=False),
        sa.Column("returned_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["inventory_holds.id"], name=op.f("fk_inventory_hold_units_hold_id_inventory_holds")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["inventory_units.id"], name=op.f("fk_inventory_hold_units_unit_id_inventory_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_hold_units")),
    )
    with op.batch_alter_table("inventory_hold_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inventory_hold_units_hold_id"), ["hold_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inventory_hold_units_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inventory_hold_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_hold_units_unit_id"))
        batch_op.drop_index(batch_op.f("ix_inventory_hold_units_hold_id"))

    op.drop_table("inventory_hold_units")
    with op.batch_alter_table("inventory_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inventory_units_pool_id"))
        batch_op.drop_index(batch_op.f("ix_inventory_units_organizer_id"))

    op.drop_table("inventory_units")
