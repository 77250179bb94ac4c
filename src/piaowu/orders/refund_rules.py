"""Which tickets a refund may take back, and which units go back on sale. Pure: imports only ``core``.

A ticket that has been admitted at a gate was *used*: its holder came in and its place was consumed. Such a
ticket is not refundable by default (``ticket_used``): refunding it by accident would give the money back and
put a place on sale that someone already occupies, and the check-in figures would no longer match the scans.
Staff with the refund permission may override this, with a written reason (the audit event keeps it): the money
is refunded and the ticket voided, but the place of a used ticket does **not** go back on sale — it was used.
Tickets never admitted give back what their line holds (``order_line_holdings``): its units of each pool, and
the legs of each unit with identity (a seat) it claimed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from piaowu.core.errors import TicketUsed
from piaowu.core.selections import Holding, PoolHolding, UnitHolding


@dataclass(frozen=True, slots=True)
class RefundLine:
    """One order line chosen for refund, with what the gate knows of its ticket at the moment of the refund
    (read under the ticket's row lock, so no gate can admit it between this read and the refund's commit)."""

    line_id: str
    price_minor: int
    holdings: tuple[Holding, ...]  # what this line holds: units of pools, units with identity
    entries_used: int = 0  # 0 when the line has no ticket (yet)
    ticket_code: str = ""


@dataclass(frozen=True, slots=True)
class RefundPlan:
    line_ids: tuple[str, ...]  # every line refunded (money back, ticket voided)
    amount_minor: int
    used_line_ids: tuple[str, ...]  # refunded although admitted (the override): their units stay sold
    returned_takes: tuple[tuple[str, int], ...]  # (pool id, units) back to each pool, per line (repeated)
    returned_unit_ids: tuple[str, ...]  # units whose claimed legs come back

    @property
    def override_used(self) -> bool:
        return bool(self.used_line_ids)


def plan_refund(lines: Sequence[RefundLine], *, allow_used: bool) -> RefundPlan:
    """Decide a refund of ``lines``. Raises ``TicketUsed`` (listing the used lines and their ticket codes) when
    one of them was admitted at a gate and ``allow_used`` is false; then nothing may be written."""
    used = [line for line in lines if line.entries_used > 0]
    if used and not allow_used:
        raise TicketUsed(
            line_ids=[line.line_id for line in used],
            ticket_codes=[line.ticket_code for line in used if line.ticket_code],
        )
    back = [line for line in lines if line.entries_used == 0]
    return RefundPlan(
        line_ids=tuple(line.line_id for line in lines),
        amount_minor=sum(line.price_minor for line in lines),
        used_line_ids=tuple(line.line_id for line in used),
        returned_takes=tuple(
            (h.pool_id, h.quantity) for line in back for h in line.holdings if isinstance(h, PoolHolding)
        ),
        returned_unit_ids=tuple(h.unit_id for line in back for h in line.holdings if isinstance(h, UnitHolding)),
    )
