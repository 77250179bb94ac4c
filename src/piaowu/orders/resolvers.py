"""Which resolver sells which product kind, and the resolution of a whole order request.

A new product kind (assigned seats, timed entry, rail legs…) is a resolver in its own area, added to
``REGISTRY`` here; orders, the inventory engine and the API's item shape do not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from piaowu.core.selections import Item, Registry, Resolution
from piaowu.db.uow import UnitOfWork
from piaowu.orders import placement
from piaowu.orders.admission import AdmissionResolver
from piaowu.orders.schemas import OrderItemIn, SelectedItemIn
from piaowu.seating.resolver import SeatResolver

REGISTRY = Registry([AdmissionResolver(), SeatResolver()])
# Tests register extra kinds (e.g. a seat resolver) through ``uow.strategies`` under this key.
REGISTRY_KEY = "orders.resolvers"


def registry_of(uow: UnitOfWork) -> Registry:
    return uow.strategies.get(REGISTRY_KEY, REGISTRY)


def items_of(
    registry: Registry, requested: Sequence[OrderItemIn | SelectedItemIn], *, channel: str = "web"
) -> list[Item]:
    """The request's items, typed, each with the order's sales ``channel``. The counted shape
    ``{ticket_type_id, quantity}`` is general admission, as it always was; the selected shape names its product,
    parsed by that product's resolver. Raises ``UnknownProduct`` / ``ValidationFailed`` for the first item that
    is wrong, before anything is read."""
    out: list[Item] = []
    for i, it in enumerate(requested):
        if isinstance(it, OrderItemIn):
            selection = placement.AdmissionSelection(it.ticket_type_id, it.quantity)
            out.append(Item(placement.KIND, selection, (), i, f"items.{i}", channel))
        else:
            item = registry.parse(it.product, it.selection, [h.name for h in it.holders], i)
            out.append(replace(item, channel=channel))
    return out


async def resolve(uow: UnitOfWork, organizer_id: str, items: Sequence[Item], *, fresh: bool = False) -> Resolution:
    """Every item resolved by its product's resolver, then the order-wide limits checked: all or nothing (any
    problem raises, and nothing has been reserved)."""
    registry = registry_of(uow)
    by_kind: dict[str, list[Item]] = {}
    for item in items:
        by_kind.setdefault(item.product, []).append(item)
    parts = []
    for kind, group in by_kind.items():
        resolver = registry.get(kind)
        parts.append(resolver.resolve(group, await resolver.load(uow, organizer_id, group, fresh=fresh)))
    resolution = Resolution.join(parts)
    placement.check_order(resolution)
    return resolution
