"""seathot: every seated session's pool is a seats-only pool

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

A seat order no longer takes its session pool's row: the seat is the pool's unit, and a seats-only pool's held and
sold are its seats' live claims (``inventory.rules.SEATS_ONLY``, ``inventory.repository.seat_counts``). The pool
becomes seats-only when a layout is assigned (``seating.session_seating.assign_layout``), which has been so since
before any release; a database whose sessions got their seats earlier is brought in line here, so that no seated
session's pool is read by its row's counters. Nothing to undo: the kind is what assign_layout sets today.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SEATED_POOLS_ARE_SEATS_ONLY = sa.text(
    "UPDATE inventory_pools SET kind = 'seats' WHERE kind <> 'seats' AND id IN "
    "(SELECT s.pool_id FROM sessions s JOIN session_seating z ON z.session_id = s.id)"
)


def upgrade() -> None:
    op.execute(SEATED_POOLS_ARE_SEATS_ONLY)


def downgrade() -> None:
    pass
