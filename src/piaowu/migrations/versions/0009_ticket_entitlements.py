"""ticket entitlements and ticket type grants; every existing ticket gets its one session entitlement

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import piaowu.db.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_type_grants",
        sa.Column("organizer_id", sa.String(length=26), nullable=False),
        sa.Column("ticket_type_id", sa.String(length=26), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=26), nullable=True),
        sa.Column("event_id", sa.String(length=26), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("allowed", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=True),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_ticket_type_grants_event_id_events")),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["organizers.id"], name=op.f("fk_ticket_type_grants_organizer_id_organizers")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_ticket_type_grants_session_id_sessions")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"], ["ticket_types.id"], name=op.f("fk_ticket_type_grants_ticket_type_id_ticket_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_type_grants")),
        sa.UniqueConstraint("ticket_type_id", "position", name=op.f("uq_ticket_type_grants_ticket_type_id_position")),
    )
    with op.batch_alter_table("ticket_type_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_type_grants_organizer_id"), ["organizer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_type_grants_ticket_type_id"), ["ticket_type_id"], unique=False)

    op.create_table(
        "ticket_entitlements",
        sa.Column("organizer_id", sa.String(length=26), nullable=False),
        sa.Column("ticket_id", sa.String(length=26), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=26), nullable=True),
        sa.Column("event_id", sa.String(length=26), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("allowed", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("valid_from", piaowu.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", piaowu.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("days_used", sa.Text(), nullable=False),
        sa.Column("last_entry_at", piaowu.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_gate", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.CheckConstraint("used >= 0 AND used <= allowed", name=op.f("ck_ticket_entitlements_used_range")),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_ticket_entitlements_event_id_events")),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["organizers.id"], name=op.f("fk_ticket_entitlements_organizer_id_organizers")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_ticket_entitlements_session_id_sessions")
        ),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_entitlements_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_entitlements")),
        sa.UniqueConstraint("ticket_id", "position", name=op.f("uq_ticket_entitlements_ticket_id_position")),
    )
    with op.batch_alter_table("ticket_entitlements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_entitlements_organizer_id"), ["organizer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_entitlements_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_entitlements_ticket_id"), ["ticket_id"], unique=False)

    # Carry every ticket forward: its one entitlement to its session, with its entries and last entry. One
    # INSERT … SELECT (no rows through Python, whatever the number of tickets). The entitlement takes its
    # ticket's id: unique in its own table, and new entitlements get fresh ids. The CASE keeps the check
    # constraint against a counter that ever went past its limit (the naive redeemer of the race tests could).
    op.execute(
        """
        INSERT INTO ticket_entitlements (id, organizer_id, ticket_id, position, session_id, event_id, label, mode,
            allowed, used, valid_from, valid_until, days_used, last_entry_at, last_gate)
        SELECT t.id, t.organizer_id, t.id, 0, t.session_id, NULL,
            COALESCE((SELECT CASE WHEN s.name = '' THEN e.name ELSE e.name || ' · ' || s.name END
                      FROM sessions s JOIN events e ON e.id = s.event_id WHERE s.id = t.session_id), ''),
            'entries', t.entries_allowed,
            CASE WHEN t.entries_used > t.entries_allowed THEN t.entries_allowed ELSE t.entries_used END,
            t.valid_from, t.valid_until, '', t.last_entry_at, t.last_gate
        FROM tickets t
        """
    )


def downgrade() -> None:
    # The tickets keep their session, entries_allowed and entries_used (the sums): nothing to copy back for
    # tickets with one entitlement; a pass loses what its other entitlements were.
    with op.batch_alter_table("ticket_entitlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_entitlements_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_ticket_entitlements_session_id"))
        batch_op.drop_index(batch_op.f("ix_ticket_entitlements_organizer_id"))
    op.drop_table("ticket_entitlements")
    with op.batch_alter_table("ticket_type_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_type_grants_ticket_type_id"))
        batch_op.drop_index(batch_op.f("ix_ticket_type_grants_organizer_id"))
    op.drop_table("ticket_type_grants")
