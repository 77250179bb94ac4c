"""The sale path's read of the catalog: ticket types resolved into offers.

What a ticket type consumes is decided here and only here (``Offer.pool_ids``, from ``rules.pools_of``): the
session's pool, plus the ticket type's quota pool when it has a quota. Later products add their pools the same
way (a slot pool, a channel allotment) without the inventory engine or orders changing.

Names are in the buyer's language (``core.reading_locale``): order lines keep them as they were at the sale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from piaowu.catalog import repository as repo
from piaowu.catalog.rules import SaleState, pools_of, sale_state
from piaowu.catalog.texts import pick
from piaowu.core.reading_locale import current
from piaowu.db.uow import UnitOfWork


@dataclass(frozen=True)
class Offer:
    """A ticket type resolved for sale: price, limits, the pools one unit consumes, and when it is valid."""

    ticket_type_id: str
    name: str
    price_minor: int
    currency: str
    min_per_order: int
    max_per_order: int
    is_active: bool
    pool_ids: tuple[str, ...]
    session_id: str
    session_name: str
    event_name: str
    sale_state: SaleState
    starts_at: datetime
    ends_at: datetime
    admission_opens_minutes: int


async def offers_for(uow: UnitOfWork, organizer_id: str, ticket_type_ids: Sequence[str]) -> dict[str, Offer]:
    """Resolve ticket types for a sale in one query. Unknown ids (or another organizer's) are simply absent."""
    now = uow.now()
    lang = current()
    out: dict[str, Offer] = {}
    for r in await repo.offers(uow.session, organizer_id, ticket_type_ids):
        out[r.id] = Offer(
            ticket_type_id=r.id,
            name=pick(r.name_i18n, lang, r.name),
            price_minor=r.price_minor,
            currency=r.currency,
            min_per_order=r.min_per_order,
            max_per_order=r.max_per_order,
            is_active=r.is_active,
            pool_ids=pools_of(r.pool_id, r.quota_pool_id),
            session_id=r.session_id,
            session_name=pick(r.session_name_i18n, lang, r.session_name),
            event_name=pick(r.event_name_i18n, lang, r.event_name),
            sale_state=sale_state(r.status, now, r.starts_at, r.ends_at, r.sales_start, r.sales_end),
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            admission_opens_minutes=r.admission_opens_minutes,
        )
    return out
