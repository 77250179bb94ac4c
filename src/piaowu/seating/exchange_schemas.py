"""The seat exchange's request and answer (``POST /api/v1/tickets/{ticket_id}/exchange-seat``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from piaowu.fields import InputModel
from piaowu.tickets.schemas import TicketOut


class SeatExchangeIn(InputModel):
    seat_id: str = Field(min_length=1, max_length=40, description="The new seat's id (a seat of the same session).")


class SeatOut(BaseModel):
    id: str
    section: str
    row: str
    number: str
    zone: str


class SeatExchangeOut(BaseModel):
    ticket: TicketOut = Field(description="The ticket as reissued: a new `code` and `qr_payload` for the new seat.")
    old_code: str = Field(description="The code it had: refused at every gate from now on.")
    old_seat: SeatOut
    new_seat: SeatOut
