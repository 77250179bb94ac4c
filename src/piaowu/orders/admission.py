"""The general-admission resolver (product kind ``admission``): reads the offers of the chosen ticket types,
then resolves purely (``placement``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from piaowu.catalog import offers as catalog_offers
from piaowu.catalog.offers import Offer
from piaowu.core.selections import Item, Resolution
from piaowu.db.uow import UnitOfWork
from piaowu.orders import placement


class AdmissionResolver:
    kind = placement.KIND

    def parse(self, raw: Mapping[str, Any], field: str) -> placement.AdmissionSelection:
        return placement.parse(raw, field)

    async def load(
        self, uow: UnitOfWork, organizer_id: str, items: Sequence[Item], *, fresh: bool = False
    ) -> dict[str, Offer]:
        """One query for every ticket type named (another organizer's are simply absent: unknown), or none when
        this process has them cached: the resolution's ``checks`` make the reservation verify them."""
        ids = [i.selection.ticket_type_id for i in items]
        return await catalog_offers.offers_for(uow, organizer_id, ids, cached=True, fresh=fresh)

    def resolve(self, items: Sequence[Item], context: Mapping[str, Offer]) -> Resolution:
        resolution = placement.resolve(items, context)
        sold = {line.ticket_type_id for line in resolution.lines}
        # Offers built elsewhere (pure tests' plain offers) have no checks: nothing of theirs was cached.
        checks = tuple(c for tt_id in sold for c in getattr(context[tt_id], "checks", ()))
        # Counted tickets: the session's pool is taken only while it does not sell seats alone — checked on the
        # pool's row by the take itself, so an order waiting for that row behind a layout being assigned
        # (PostgreSQL re-reads only that row when the wait ends) is refused too.
        seatless = frozenset(p for tt_id in sold for p in context[tt_id].pool_ids)
        return replace(resolution, checks=checks, seatless=seatless)
