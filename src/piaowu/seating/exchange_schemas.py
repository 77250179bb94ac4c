"""The seat exchange's request and answer (``POST /api/v1/tickets/{ticket_id}/exchange-seat``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from piaowu.fields import InputModel
from piaowu.orders.schemas import CashPaymentIn
from piaowu.tickets.schemas import TicketOut


class SeatExchangeIn(InputModel):
    seat_id: str = Field(min_length=1, max_length=40, description="The new seat's id (a seat of the same session).")
    price_difference_minor: int | None = Field(
        default=None,
        ge=-(10**12),
        le=10**12,
        strict=True,
        description="The difference shown to the buyer and confirmed: the new seat's price for the ticket's type "
        "minus the price the ticket was sold for (positive: the buyer pays it at the counter; negative: it is "
        "refunded). Needed when the prices differ; a value that is not the current difference is refused with "
        "`exchange_price_differs`, which carries the difference.",
    )
    payment: CashPaymentIn = Field(
        default_factory=CashPaymentIn,
        description="How an amount due is taken at the counter (`cash` or `card_terminal`, and what was tendered). "
        "Unused when nothing is due.",
    )


class SeatOut(BaseModel):
    id: str
    section: str
    row: str
    number: str
    zone: str


class SeatExchangeOut(BaseModel):
    ticket: TicketOut = Field(description="The ticket as reissued: a new `code` and `qr_payload` for the new seat.")
    old_code: str = Field(description="The code it had: answered `replaced` at every gate from now on.")
    old_seat: SeatOut
    new_seat: SeatOut
    currency: str
    old_price_minor: int = Field(description="What the ticket was sold for.")
    new_price_minor: int = Field(description="What it costs now (the order line's new price).")
    price_difference_minor: int = Field(description="new − old: positive was collected, negative refunded.")
    payment_id: str | None = Field(default=None, description="The counter payment that took the amount due.")
    refund_ids: list[str] = Field(default_factory=list, description="The refunds of the difference.")
    refund_queued_minor: int = Field(
        default=0,
        description="The part of the refund owed on an online payment: asked of its provider after commit "
        "(`refund.succeeded` or `refund.failed` in the order's history); the rest was paid back at the counter.",
    )
    change_minor: int | None = Field(default=None, description="Cash to hand back: tendered − amount due.")
