"""A minimal assigned-seat resolver for tests: how a later product kind plugs into the registry without orders,
the engine or the API's item shape changing (docs/architecture.md, "Selections, resolvers and line holdings").

Product kind ``test_seat``; selection ``{"ticket_type_id": …, "seats": [unit ids]}``; each seat is one line that
holds one unit of each pool of the ticket type's offer and claims its seat on leg 0 (a one-leg mask). Seats must
be units of the session's pool: a seat of another session is refused, never claimed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from piaowu.catalog import offers as catalog_offers
from piaowu.core.errors import ValidationFailed
from piaowu.core.selections import Item, PoolHolding, Registry, Resolution, ResolvedLine, UnitHolding
from piaowu.inventory import repository as inventory_repo
from piaowu.orders import resolvers
from piaowu.orders.admission import AdmissionResolver
from piaowu.runtime import Runtime

KIND = "test_seat"


class SeatResolver:
    kind = KIND

    def parse(self, raw: Mapping[str, Any], field: str) -> tuple[str, tuple[str, ...]]:
        tt, seats = raw.get("ticket_type_id"), raw.get("seats")
        if set(raw) != {"ticket_type_id", "seats"} or not isinstance(tt, str) or not isinstance(seats, list):
            raise ValidationFailed([{"field": field, "code": "invalid", "message": "Send a ticket type id."}])
        return tt, tuple(str(s) for s in seats)

    async def load(self, uow: Any, organizer_id: str, items: Sequence[Item], *, fresh: bool = False) -> Any:
        offers = await catalog_offers.offers_for(uow, organizer_id, [i.selection[0] for i in items])
        units = await inventory_repo.units(uow.session, organizer_id, [s for i in items for s in i.selection[1]])
        return offers, {u.id: u.pool_id for u in units}

    def resolve(self, items: Sequence[Item], context: Any) -> Resolution:
        offers, unit_pools = context
        lines = []
        for item in items:
            tt, seats = item.selection
            offer = offers.get(tt)
            bad = [
                {"field": f"{item.at}.seats.{k}", "code": "unknown_seat", "message": "Send a ticket type id."}
                for k, s in enumerate(seats)
                if offer is None or unit_pools.get(s) not in offer.pool_ids
            ]
            if bad:
                raise ValidationFailed(bad)
            assert offer is not None
            for k, seat in enumerate(seats):
                lines.append(
                    ResolvedLine(
                        ticket_type_id=tt,
                        ticket_type_name=offer.name,
                        session_id=offer.session_id,
                        price_minor=offer.price_minor,
                        currency=offer.currency,
                        holdings=(*(PoolHolding(p, 1) for p in offer.pool_ids), UnitHolding(seat, 0b1)),
                        holder_name=item.holders[k] if item.holders else "",
                    )
                )
        return Resolution(tuple(lines))


def sell_seats(rt: Runtime) -> None:
    """Let ``rt`` sell ``test_seat`` items next to general admission."""
    rt.strategies[resolvers.REGISTRY_KEY] = Registry([AdmissionResolver(), SeatResolver()])
