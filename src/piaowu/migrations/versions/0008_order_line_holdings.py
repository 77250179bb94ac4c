"""order line holdings: what each line holds (pool + quantity, or unit + mask) replaces order_lines.pool_ids

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Data: ``pool_ids`` was written as the space-separated pools one ticket of the line consumed (one unit each), so
every pool named becomes one row with quantity 1, in the order named (ids are time-ordered and made in that
order, so reading a line's rows by id gives the order back). Downgrade writes the pool rows back into
``pool_ids`` (a pool held n times is named n times); holdings of units with identity cannot be expressed there
and are dropped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from piaowu.core.ids import new_id

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 1000

_lines = sa.table(
    "order_lines",
    sa.column("id", sa.String),
    sa.column("organizer_id", sa.String),
    sa.column("pool_ids", sa.String),
)
_holdings = sa.table(
    "order_line_holdings",
    sa.column("id", sa.String),
    sa.column("line_id", sa.String),
    sa.column("organizer_id", sa.String),
    sa.column("pool_id", sa.String),
    sa.column("unit_id", sa.String),
    sa.column("quantity", sa.Integer),
    sa.column("mask", sa.BigInteger),
)


def upgrade() -> None:
    op.create_table(
        "order_line_holdings",
        sa.Column("line_id", sa.String(length=26), nullable=False),
        sa.Column("organizer_id", sa.String(length=26), nullable=False),
        sa.Column("pool_id", sa.String(length=26), nullable=True),
        sa.Column("unit_id", sa.String(length=26), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("mask", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.CheckConstraint(
            "(pool_id IS NOT NULL AND unit_id IS NULL AND quantity >= 1 AND mask = 0)"
            " OR (pool_id IS NULL AND unit_id IS NOT NULL AND quantity = 0 AND mask > 0)",
            name=op.f("ck_order_line_holdings_pool_or_unit"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["order_lines.id"], name=op.f("fk_order_line_holdings_line_id_order_lines")
        ),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["organizers.id"], name=op.f("fk_order_line_holdings_organizer_id_organizers")
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["inventory_pools.id"], name=op.f("fk_order_line_holdings_pool_id_inventory_pools")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["inventory_units.id"], name=op.f("fk_order_line_holdings_unit_id_inventory_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_line_holdings")),
    )
    with op.batch_alter_table("order_line_holdings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_line_holdings_line_id"), ["line_id"], unique=False)

    bind = op.get_bind()
    after = ""
    while True:  # in id order, a batch at a time: a large table is never read into memory at once
        batch = bind.execute(
            sa.select(_lines.c.id, _lines.c.organizer_id, _lines.c.pool_ids)
            .where(_lines.c.id > after)
            .order_by(_lines.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            break
        rows = [
            {
                "id": new_id(),
                "line_id": line_id,
                "organizer_id": organizer_id,
                "pool_id": pool_id,
                "unit_id": None,
                "quantity": 1,
                "mask": 0,
            }
            for line_id, organizer_id, pool_ids in batch
            for pool_id in (pool_ids or "").split()
        ]
        if rows:
            bind.execute(_holdings.insert(), rows)
        after = batch[-1][0]

    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_column("pool_ids")


def downgrade() -> None:
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pool_ids", sa.String(length=300), nullable=False, server_default=""))
    bind = op.get_bind()
    named: dict[str, list[str]] = {}
    pools = bind.execute(
        sa.select(_holdings.c.line_id, _holdings.c.pool_id, _holdings.c.quantity)
        .where(_holdings.c.pool_id.is_not(None))
        .order_by(_holdings.c.line_id, _holdings.c.id)
    )
    for line_id, pool_id, quantity in pools:
        named.setdefault(line_id, []).extend([pool_id] * quantity)
    if named:
        bind.execute(
            _lines.update().where(_lines.c.id == sa.bindparam("line")).values(pool_ids=sa.bindparam("pools")),
            [{"line": line_id, "pools": " ".join(ids)} for line_id, ids in named.items()],
        )
    # The models never had a server default; the column gets its old shape back.
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.alter_column("pool_ids", server_default=None)

    with op.batch_alter_table("order_line_holdings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_line_holdings_line_id"))
    op.drop_table("order_line_holdings")
