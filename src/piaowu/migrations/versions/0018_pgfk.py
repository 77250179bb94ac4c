"""pgfk: fewer foreign-key checks and index entries per order, none of the guarantees less

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

An order's statement checks each foreign key of the rows it inserts at its end, a lookup of the parent with a row
lock (``SELECT … FOR KEY SHARE``), and writes an entry into every index of each row it inserts or moves.

- ``order_lines``: its three keys to the organizer, the session and the ticket type become ONE key
  ``(ticket_type_id, session_id, organizer_id)`` to ``ticket_types (id, session_id, organizer_id)`` (a new unique
  key of the catalog's table, written when a type is made, never by an order). Stronger than the three: the line's
  ticket type is of the line's session and organizer; the session and the organizer exist by the ticket type's
  own keys. 4 checks per line become 2, and the session's row — shared by every order of the session — is no
  longer locked by them.
- ``ix_inventory_holds_organizer_id`` and ``ix_inventory_units_organizer_id`` go: no query reads them (every read
  names the hold's id, the units' ids or their pool; pg_stat_user_indexes: 0 scans in every bench), and each order
  wrote one entry into the first, each seat claim and each seat given back one into the second (a unit's claim is
  never a HOT update: it changes ``occupied``, which the partial index ``ix_inventory_units_leg0_in_use`` reads).
  Their foreign keys to ``organizers`` stay.

Lines whose session or organizer differs from their ticket type's would make the new key fail to be created: they
are counted first and named in the error (none can be written by the code of any release).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

LINE_KEY = "fk_order_lines_ticket_type_id_ticket_types"
TYPE_KEY = "uq_ticket_types_id_session_id_organizer_id"

MISMATCHED_LINES = sa.text(
    "SELECT count(*) FROM order_lines l JOIN ticket_types t ON t.id = l.ticket_type_id"
    " WHERE t.session_id <> l.session_id OR t.organizer_id <> l.organizer_id"
)


def upgrade() -> None:
    mismatched = op.get_bind().execute(MISMATCHED_LINES).scalar()
    if mismatched:
        raise RuntimeError(
            f"{mismatched} order lines name a session or organizer other than their ticket type's: "
            "fix them before migration 0018 (the lines' key now proves all three together)"
        )
    with op.batch_alter_table("ticket_types", schema=None) as batch_op:
        batch_op.create_unique_constraint(TYPE_KEY, ["id", "session_id", "organizer_id"])
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_constraint("fk_order_lines_organizer_id_organizers", type_="foreignkey")
        batch_op.drop_constraint("fk_order_lines_session_id_sessions", type_="foreignkey")
        batch_op.drop_constraint(LINE_KEY, type_="foreignkey")
        batch_op.create_foreign_key(
            LINE_KEY,
            "ticket_types",
            ["ticket_type_id", "session_id", "organizer_id"],
            ["id", "session_id", "organizer_id"],
        )
    with op.batch_alter_table("inventory_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_inventory_holds_organizer_id")
    with op.batch_alter_table("inventory_units", schema=None) as batch_op:
        batch_op.drop_index("ix_inventory_units_organizer_id")


def downgrade() -> None:
    with op.batch_alter_table("inventory_units", schema=None) as batch_op:
        batch_op.create_index("ix_inventory_units_organizer_id", ["organizer_id"], unique=False)
    with op.batch_alter_table("inventory_holds", schema=None) as batch_op:
        batch_op.create_index("ix_inventory_holds_organizer_id", ["organizer_id"], unique=False)
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_constraint(LINE_KEY, type_="foreignkey")
        batch_op.create_foreign_key(LINE_KEY, "ticket_types", ["ticket_type_id"], ["id"])
        batch_op.create_foreign_key("fk_order_lines_session_id_sessions", "sessions", ["session_id"], ["id"])
        batch_op.create_foreign_key("fk_order_lines_organizer_id_organizers", "organizers", ["organizer_id"], ["id"])
    with op.batch_alter_table("ticket_types", schema=None) as batch_op:
        batch_op.drop_constraint(TYPE_KEY, type_="unique")
