"""Write a new Alembic revision from the difference between the models and the migrations' head.

    .venv/bin/python scripts/new-migration.py "add seats"

It migrates a throwaway SQLite database to head and autogenerates against it; review the file it writes (batch
mode is on for SQLite ALTERs; dialect-specific SQL belongs in the migration with a dialect check, as in 0002),
then run the tests: tests/integration/test_migrations.py runs it up and down on both databases.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from piaowu.db.migrate import alembic_config, upgrade

if len(sys.argv) != 2:
    sys.exit(__doc__)
with tempfile.TemporaryDirectory() as tmp:
    url = f"sqlite+aiosqlite:///{Path(tmp) / 'head.db'}"
    upgrade(url)
    cfg = alembic_config(url)
    head = ScriptDirectory.from_config(cfg).get_current_head() or "0000"
    command.revision(cfg, message=sys.argv[1], autogenerate=True, rev_id=f"{int(head) + 1:04d}")
