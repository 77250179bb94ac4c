"""The refund reasons the system writes itself, and reading them back (pure).

A refund keeps a free-text ``reason`` (``refunds.reason``, at most 200 characters). Staff type most of them; the
system writes a few itself, in English, and these stay stored as written (the API gives reasons as stored, and
reports and audit read them too). Pages show the system's in the reader's language: ``parse`` recognises them by
their exact form, and the page translates what it finds (``web.templating.refund_reason``); anything else is a
staff text and is shown as typed.

The forms (each written only here):

- ``refund``: no reason was given (``orders.refunds``);
- ``session cancelled`` / ``session cancelled: <what staff told the buyers>`` (``orders.session_cancel``; the
  staff text is kept as typed, and the whole cut at 200 characters);
- ``seat exchange <old seat> → <new seat>`` (``seating.exchange``, the difference of a cheaper seat; the same
  words end the counter payment's subject when the buyer pays more);
- ``duplicate payment`` and ``paid after expiry; sold out`` (``orders.payment_flow``: a payment that landed
  for an order already paid, or after it expired with its tickets gone, is refunded whole).

A staff text written in exactly one of these forms reads as the system's: it says the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_LENGTH = 200  # refunds.reason
NONE_GIVEN = "refund"
SESSION_CANCELLED = "session cancelled"
_CANCELLED_WITH = SESSION_CANCELLED + ": "
DUPLICATE_PAYMENT = "duplicate payment"
PAID_AFTER_EXPIRY = "paid after expiry; sold out"
_EXCHANGE = re.compile(r"seat exchange (?P<old>\S(?:.*\S)?) → (?P<new>\S(?:.*\S)?)")


class Kind(StrEnum):
    NONE_GIVEN = "none_given"
    SESSION_CANCELLED = "session_cancelled"
    SEAT_EXCHANGE = "seat_exchange"
    DUPLICATE_PAYMENT = "duplicate_payment"
    PAID_AFTER_EXPIRY = "paid_after_expiry"


@dataclass(frozen=True, slots=True)
class SystemReason:
    kind: Kind
    staff_text: str = ""  # a cancellation's own words, as staff typed them
    old_seat: str = ""
    new_seat: str = ""


def session_cancelled(staff_text: str = "") -> str:
    """The reason of a refund made because its session was cancelled, with what staff told the buyers."""
    return (_CANCELLED_WITH + staff_text)[:MAX_LENGTH] if staff_text else SESSION_CANCELLED


def seat_exchange(old_seat: str, new_seat: str) -> str:
    """The reason of the difference refunded (or the subject of the one paid) when a ticket changes seat."""
    return f"seat exchange {old_seat} → {new_seat}"


def parse(reason: str) -> SystemReason | None:
    """The system's reason ``reason`` is, or None for a staff text (to be shown as typed)."""
    if reason == NONE_GIVEN:
        return SystemReason(Kind.NONE_GIVEN)
    if reason == SESSION_CANCELLED:
        return SystemReason(Kind.SESSION_CANCELLED)
    if reason == DUPLICATE_PAYMENT:
        return SystemReason(Kind.DUPLICATE_PAYMENT)
    if reason == PAID_AFTER_EXPIRY:
        return SystemReason(Kind.PAID_AFTER_EXPIRY)
    if reason.startswith(_CANCELLED_WITH) and reason[len(_CANCELLED_WITH) :]:
        return SystemReason(Kind.SESSION_CANCELLED, staff_text=reason[len(_CANCELLED_WITH) :])
    found = _EXCHANGE.fullmatch(reason)
    if found:
        return SystemReason(Kind.SEAT_EXCHANGE, old_seat=found["old"], new_seat=found["new"])
    return None
