"""What the engine-level race tests check after every race: counters and masks equal the holds they summarise.

The order-level books are ``ledger.py`` (they also count order lines and tickets); these read the inventory
engine's own rows only, for races that call the engine directly. For every pool P and unit U:

- ``held(P)`` = Σ quantity of P's items in ``active`` holds;
- ``sold(P)`` = Σ quantity of P's items in ``converted`` holds, minus what the race's refunders gave back (the
  engine keeps no row of a counter return: each test says what one returned claim gave back);
- a claim is *live* while its hold is active, or converted and not returned; no two live claims of U share a
  leg, and ``occupied(U)`` = the union of U's live claims.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from piaowu.inventory.models import Hold, HoldItem, HoldUnit, Pool, Unit
from piaowu.inventory.rules import overlaps
from piaowu.runtime import Runtime


@dataclass(frozen=True)
class PoolRows:
    capacity: int
    allowance: int
    held: int
    sold: int
    held_rows: int  # Σ active items
    converted_rows: int  # Σ converted items (before any refund)

    @property
    def within_capacity(self) -> bool:
        """The counters and the rows alike: a lost update can keep the counter within capacity while the holds
        behind it are past it."""
        limit = self.capacity + self.allowance
        return self.held + self.sold <= limit and self.held_rows + self.converted_rows <= limit


@dataclass(frozen=True)
class EngineBooks:
    pools: dict[str, PoolRows]
    owners: dict[str, list[int]]  # unit → the masks of its live claims
    double_owned: list[tuple[str, int, int]]  # (unit, mask, mask) of two live claims sharing a leg
    occupied_wrong: list[tuple[str, int, int]]  # (unit, occupied, union of its live claims)
    returned: dict[str, int]  # unit → its claims returned (refunded)
    occupied: dict[str, int]

    @property
    def units_sound(self) -> bool:
        return not self.double_owned and not self.occupied_wrong

    def held_matches(self) -> bool:
        return all(p.held == p.held_rows for p in self.pools.values())


async def engine_books(rt: Runtime, pool_ids: Sequence[str], unit_ids: Sequence[str] = ()) -> EngineBooks:
    async with rt.uow(readonly=True) as uow:
        s = uow.session
        pools = {p.id: p for p in (await s.execute(select(Pool).where(Pool.id.in_(list(pool_ids))))).scalars()}
        items = (
            await s.execute(
                select(HoldItem.pool_id, HoldItem.quantity, Hold.status)
                .join(Hold, Hold.id == HoldItem.hold_id)
                .where(HoldItem.pool_id.in_(list(pool_ids)))
            )
        ).all()
        claims = (
            await s.execute(
                select(HoldUnit.unit_id, HoldUnit.mask, HoldUnit.returned_at, Hold.status)
                .join(Hold, Hold.id == HoldUnit.hold_id)
                .where(HoldUnit.unit_id.in_(list(unit_ids)))
            )
        ).all()
        occupied = dict((await s.execute(select(Unit.id, Unit.occupied).where(Unit.id.in_(list(unit_ids))))).all())
    held, converted = Counter[str](), Counter[str]()
    for pool_id, qty, status in items:
        if status == "active":
            held[pool_id] += qty
        elif status == "converted":
            converted[pool_id] += qty
    owners: dict[str, list[int]] = defaultdict(list)
    returned = Counter[str]()
    for unit_id, mask, returned_at, status in claims:
        if status == "active" or (status == "converted" and returned_at is None):
            owners[unit_id].append(mask)
        returned[unit_id] += returned_at is not None
    double = [(u, a, b) for u, ms in owners.items() for i, a in enumerate(ms) for b in ms[i + 1 :] if overlaps(a, b)]
    wrong = []
    for u in unit_ids:
        union = 0
        for m in owners.get(u, []):
            union |= m
        if occupied[u] != union:
            wrong.append((u, occupied[u], union))
    return EngineBooks(
        {pid: PoolRows(p.capacity, p.allowance, p.held, p.sold, held[pid], converted[pid]) for pid, p in pools.items()},
        dict(owners),
        double,
        wrong,
        dict(returned),
        occupied,
    )
