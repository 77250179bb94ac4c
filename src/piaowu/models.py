"""Every table of every area, imported in one place so that ``Base.metadata`` is complete (Alembic, tests).

It lives at the top of the package, not in ``db/``, because ``db`` must not import the areas.
"""

from __future__ import annotations

import piaowu.accounts.models
import piaowu.audit.models
import piaowu.bulkjobs.models
import piaowu.catalog.models
import piaowu.checkin.models
import piaowu.db.idempotency
import piaowu.db.outbox
import piaowu.inventory.models
import piaowu.orders.models
import piaowu.organizers.models
import piaowu.payments.models
import piaowu.seating.models
import piaowu.tickets.models
from piaowu.db.base import Base

__all__ = ["Base", "load_all_models"]

_AREAS = (
    piaowu.accounts.models,
    piaowu.audit.models,
    piaowu.bulkjobs.models,
    piaowu.catalog.models,
    piaowu.checkin.models,
    piaowu.db.idempotency,
    piaowu.db.outbox,
    piaowu.inventory.models,
    piaowu.orders.models,
    piaowu.organizers.models,
    piaowu.payments.models,
    piaowu.seating.models,
    piaowu.tickets.models,
)


def load_all_models() -> None:
    """Importing this module already registered every table; the call makes the intent explicit."""
