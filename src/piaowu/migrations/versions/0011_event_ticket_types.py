"""event_ticket_types: ticket types defined once per event; ticket_types.definition_id and price_overridden

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

Existing ticket types carry forward unchanged: no definition (definition_id NULL), price not overridden.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import piaowu.db.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_ticket_types",
        sa.Column("organizer_id", sa.String(length=26), nullable=False),
        sa.Column("event_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        # Texts by language, as on the catalog's other tables (migration 0010).
        sa.Column(
            "name_i18n",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
        sa.Column(
            "description_i18n",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=True),
        sa.Column("min_per_order", sa.Integer(), nullable=False),
        sa.Column("max_per_order", sa.Integer(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("created_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_event_ticket_types_event_id_events")),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["organizers.id"], name=op.f("fk_event_ticket_types_organizer_id_organizers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_ticket_types")),
    )
    with op.batch_alter_table("event_ticket_types", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_ticket_types_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_ticket_types_organizer_id"), ["organizer_id"], unique=False)

    with op.batch_alter_table("ticket_types", schema=None) as batch_op:
        batch_op.add_column(sa.Column("definition_id", sa.String(length=26), nullable=True))
        batch_op.add_column(sa.Column("price_overridden", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f("ix_ticket_types_definition_id"), ["definition_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_ticket_types_definition_id_event_ticket_types"),
            "event_ticket_types",
            ["definition_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket_types", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_ticket_types_definition_id_event_ticket_types"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_ticket_types_definition_id"))
        batch_op.drop_column("price_overridden")
        batch_op.drop_column("definition_id")

    with op.batch_alter_table("event_ticket_types", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_ticket_types_organizer_id"))
        batch_op.drop_index(batch_op.f("ix_event_ticket_types_event_id"))

    op.drop_table("event_ticket_types")
