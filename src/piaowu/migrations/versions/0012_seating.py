"""seating: seat layouts per venue, a session's seats (one inventory unit each), zone prices, seat labels on lines

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

New tables only, and three empty-by-default columns on order_lines: nothing existing changes meaning.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import piaowu.db.types
from sqlalchemy import Text  # noqa: F401  (autogenerate renders JSONB(astext_type=Text()))
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seat_layouts",
        sa.Column("organizer_id", sa.String(length=26), nullable=False),
        sa.Column("venue_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "sections",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column(
            "zones",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("seat_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("created_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["organizers.id"], name=op.f("fk_seat_layouts_organizer_id_organizers")
        ),
        sa.ForeignKeyConstraint(["venue_id"], ["venues.id"], name=op.f("fk_seat_layouts_venue_id_venues")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat_layouts")),
    )
    with op.batch_alter_table("seat_layouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seat_layouts_organizer_id"), ["organizer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_seat_layouts_venue_id"), ["venue_id"], unique=False)

    op.create_table(
        "seat_layout_seats",
        sa.Column("layout_id", sa.String(length=26), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=40), nullable=False),
        sa.Column("row", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=False),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("blocked_reason", sa.String(length=40), server_default="", nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(
            ["layout_id"], ["seat_layouts.id"], name=op.f("fk_seat_layout_seats_layout_id_seat_layouts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat_layout_seats")),
        sa.UniqueConstraint("layout_id", "ordinal", name=op.f("uq_seat_layout_seats_layout_id_ordinal")),
        sa.UniqueConstraint(
            "layout_id", "section", "row", "number", name=op.f("uq_seat_layout_seats_layout_id_section_row_number")
        ),
    )
    with op.batch_alter_table("seat_layout_seats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seat_layout_seats_layout_id"), ["layout_id"], unique=False)

    op.create_table(
        "session_seating",
        sa.Column("session_id", sa.String(length=26), nullable=False),
        sa.Column("organizer_id", sa.String(length=26), nullable=False),
        sa.Column("layout_id", sa.String(length=26), nullable=False),
        sa.Column("layout_version", sa.Integer(), nullable=False),
        sa.Column(
            "sections",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("seat_count", sa.Integer(), nullable=False),
        sa.Column("created_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["layout_id"], ["seat_layouts.id"], name=op.f("fk_session_seating_layout_id_seat_layouts")
        ),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["organizers.id"], name=op.f("fk_session_seating_organizer_id_organizers")
        ),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], name=op.f("fk_session_seating_session_id_sessions")),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_seating")),
    )
    with op.batch_alter_table("session_seating", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_seating_layout_id"), ["layout_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_session_seating_organizer_id"), ["organizer_id"], unique=False)

    op.create_table(
        "session_seats",
        sa.Column("unit_id", sa.String(length=26), nullable=False),
        sa.Column("organizer_id", sa.String(length=26), nullable=False),
        sa.Column("session_id", sa.String(length=26), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=40), nullable=False),
        sa.Column("row", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=False),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("blocked_reason", sa.String(length=40), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["organizers.id"], name=op.f("fk_session_seats_organizer_id_organizers")
        ),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], name=op.f("fk_session_seats_session_id_sessions")),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["inventory_units.id"], name=op.f("fk_session_seats_unit_id_inventory_units")
        ),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_session_seats")),
        sa.UniqueConstraint("session_id", "ordinal", name=op.f("uq_session_seats_session_id_ordinal")),
        sa.UniqueConstraint(
            "session_id", "section", "row", "number", name=op.f("uq_session_seats_session_id_section_row_number")
        ),
    )
    with op.batch_alter_table("session_seats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_seats_organizer_id"), ["organizer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_session_seats_session_id"), ["session_id"], unique=False)

    op.create_table(
        "session_zone_prices",
        sa.Column("organizer_id", sa.String(length=26), nullable=False),
        sa.Column("session_id", sa.String(length=26), nullable=False),
        sa.Column("zone", sa.String(length=40), nullable=False),
        sa.Column("ticket_type_id", sa.String(length=26), nullable=False),
        sa.Column("price_minor", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["organizers.id"], name=op.f("fk_session_zone_prices_organizer_id_organizers")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_session_zone_prices_session_id_sessions")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"], ["ticket_types.id"], name=op.f("fk_session_zone_prices_ticket_type_id_ticket_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_zone_prices")),
        sa.UniqueConstraint(
            "session_id", "zone", "ticket_type_id", name=op.f("uq_session_zone_prices_session_id_zone_ticket_type_id")
        ),
    )
    with op.batch_alter_table("session_zone_prices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_zone_prices_organizer_id"), ["organizer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_session_zone_prices_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_session_zone_prices_ticket_type_id"), ["ticket_type_id"], unique=False)

    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seat_section", sa.String(length=40), server_default="", nullable=False))
        batch_op.add_column(sa.Column("seat_row", sa.String(length=40), server_default="", nullable=False))
        batch_op.add_column(sa.Column("seat_number", sa.String(length=40), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_column("seat_number")
        batch_op.drop_column("seat_row")
        batch_op.drop_column("seat_section")

    with op.batch_alter_table("session_zone_prices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_zone_prices_ticket_type_id"))
        batch_op.drop_index(batch_op.f("ix_session_zone_prices_session_id"))
        batch_op.drop_index(batch_op.f("ix_session_zone_prices_organizer_id"))

    op.drop_table("session_zone_prices")
    with op.batch_alter_table("session_seats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_seats_session_id"))
        batch_op.drop_index(batch_op.f("ix_session_seats_organizer_id"))

    op.drop_table("session_seats")
    with op.batch_alter_table("session_seating", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_seating_organizer_id"))
        batch_op.drop_index(batch_op.f("ix_session_seating_layout_id"))

    op.drop_table("session_seating")
    with op.batch_alter_table("seat_layout_seats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seat_layout_seats_layout_id"))

    op.drop_table("seat_layout_seats")
    with op.batch_alter_table("seat_layouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seat_layouts_venue_id"))
        batch_op.drop_index(batch_op.f("ix_seat_layouts_organizer_id"))

    op.drop_table("seat_layouts")
