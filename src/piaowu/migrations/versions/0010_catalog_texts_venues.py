"""catalog texts in several languages ({locale: text} next to each plain column); venues with a time zone and
entrances; organizers' default catalog language

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# table → its translatable plain columns; each gets a "<column>_i18n" map
TEXTS = {
    "events": ("name", "description"),
    "sessions": ("name",),
    "ticket_types": ("name", "description"),
    "venues": ("name", "address"),
}


def _texts_column(name: str) -> sa.Column:
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    return sa.Column(f"{name}_i18n", json_type, nullable=False, server_default=sa.text("'{}'"))


def upgrade() -> None:
    with op.batch_alter_table("organizers") as batch:
        # Every organizer so far wrote its catalog in Chinese first (the demo, the settings' default language).
        batch.add_column(sa.Column("default_locale", sa.String(length=16), nullable=False, server_default="zh-CN"))
    with op.batch_alter_table("venues") as batch:
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(
            sa.Column(
                "entrances",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )
    for table, columns in TEXTS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.add_column(_texts_column(column))
    # Existing texts become their organizer's default language's: {default_locale: text}, empty texts none.
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, columns in TEXTS.items():
        for column in columns:
            if postgres:
                op.execute(
                    f"UPDATE {table} AS t SET {column}_i18n = jsonb_build_object(o.default_locale, t.{column}) "
                    f"FROM organizers AS o WHERE o.id = t.organizer_id AND t.{column} <> ''"
                )
            else:
                op.execute(
                    f"UPDATE {table} SET {column}_i18n = json_object((SELECT o.default_locale FROM organizers AS o "
                    f"WHERE o.id = {table}.organizer_id), {column}) WHERE {column} <> ''"
                )


def downgrade() -> None:
    # The plain columns still hold the default language's texts: only the other languages are lost.
    for table, columns in TEXTS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_column(f"{column}_i18n")
    with op.batch_alter_table("venues") as batch:
        batch.drop_column("entrances")
        batch.drop_column("timezone")
    with op.batch_alter_table("organizers") as batch:
        batch.drop_column("default_locale")
