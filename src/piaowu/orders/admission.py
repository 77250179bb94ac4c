"""The general-admission resolver (product kind ``admission``): reads the offers of the chosen ticket types,
then resolves purely (``placement``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

    async def load(self, uow: UnitOfWork, organizer_id: str, items: Sequence[Item]) -> dict[str, Offer]:
        """One query for every ticket type named (another organizer's are simply absent: unknown)."""
        return await catalog_offers.offers_for(uow, organizer_id, [i.selection.ticket_type_id for i in items])

    def resolve(self, items: Sequence[Item], context: Mapping[str, Offer]) -> Resolution:
        return placement.resolve(items, context)
