"""Regenerate migration 0001 from the models. Only while 0001 has not been released (first foundation issue);
afterwards every schema change is a new revision made with ``alembic revision --autogenerate``."""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from piaowu.db.migrate import MIGRATIONS_DIR, alembic_config

target = MIGRATIONS_DIR / "versions" / "0001_initial_schema.py"
target.unlink(missing_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    cfg = alembic_config(f"sqlite+aiosqlite:///{Path(tmp) / 'gen.db'}")
    command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
print(f"wrote {target}; run: ruff format src/piaowu/migrations")
