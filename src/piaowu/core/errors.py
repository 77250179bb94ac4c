"""Domain errors: exception classes with a stable machine code.

The HTTP layers map each class to a status and render the message in the caller's language; services raise
them with the data a client needs (``SoldOut(pool_ids=[...], available=2)``). Messages here are English
templates and serve as gettext msgids (see ``piaowu/i18n``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol


class Translates(Protocol):
    """What ``localized`` needs of a translator (``i18n.Translator``, which core does not import)."""

    def __call__(self, message: str, /) -> str: ...

    def ngettext(self, singular: str, plural: str, n: int, /) -> str: ...


class DomainError(Exception):
    code: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 400
    message: ClassVar[str] = "The request could not be completed."
    # A counted message (gettext's plural forms): ``message`` is the English singular, ``message_plural`` the
    # plural, and the data field ``counted_by`` picks the form ("Try again in 1 minute." / "in 5 minutes.").
    message_plural: ClassVar[str | None] = None
    counted_by: ClassVar[str] = ""

    def __init__(self, message: str | None = None, /, **data: Any) -> None:
        self.data = data
        self.detail_message = message
        super().__init__(message or self.template().format_map(_Missing(data)))

    def template(self) -> str:
        """The English template, in the form the count asks for (the singular for exactly 1)."""
        if self.detail_message:
            return self.detail_message
        if self.message_plural is not None and self.data.get(self.counted_by) != 1:
            return self.message_plural
        return self.message

    def localized(self, translate: Translates) -> str:
        """The template in the translator's language, not yet filled: a counted message through its plural
        entry (found by the singular), any other through the plain catalog."""
        count = self.data.get(self.counted_by)
        if not self.detail_message and self.message_plural is not None and isinstance(count, int):
            return translate.ngettext(self.message, self.message_plural, count)
        return translate(self.template())


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, data: dict[str, Any]) -> str:
    return template.format_map(_Missing(data))


# 400 / 422 — the request itself is wrong
class ValidationFailed(DomainError):
    code = "validation_error"
    status = 422
    message = "Some fields are not valid."

    def __init__(self, errors: list[dict[str, Any]], message: str | None = None) -> None:
        super().__init__(message, errors=errors)
        self.errors = errors


class InvalidPhone(DomainError):
    code = "invalid_phone"
    status = 422
    message = "The mobile number is not valid."


class InvalidQuantity(DomainError):
    code = "invalid_quantity"
    status = 422
    message = "Choose between {min} and {max} tickets of {ticket_type}."


class EmptySelection(DomainError):
    code = "empty_selection"
    status = 422
    message = "Choose at least one ticket."


class UnknownProduct(DomainError):
    """An order item names a product kind that no resolver sells (``core.selections.Registry``)."""

    code = "unknown_product"
    status = 422
    message = "No product of kind {product} is sold here."


class TooManySessions(DomainError):
    """A series rule (catalog.series_rules) would make more sessions than one rule may: nothing is made."""

    code = "too_many_sessions"
    status = 422
    message = "This rule makes {count} sessions; one rule makes at most {limit}. Split it into shorter ranges."


class EmptySeries(DomainError):
    code = "empty_series"
    status = 422
    message = "This rule makes no session: no date in the range falls on the chosen weekdays."


class InvalidState(DomainError):
    code = "invalid_state"
    status = 409
    message = "This is not possible while it is {state}."


# 401 / 403
class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401
    message = "Sign in or send a valid API token."


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401
    message = "The e-mail or password is wrong."


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    message = "Your role does not allow this ({permission})."


class RoleAboveYours(PermissionDenied):
    """Giving or managing a role with permissions the actor does not hold (accounts.permissions.can_grant)."""

    code = "role_above_yours"
    message = (
        "The role “{role}” has permissions your own role does not; only someone who holds them can give or manage it."
    )


# 404
class NotFound(DomainError):
    code = "not_found"
    status = 404
    message = "No {kind} with this id."


class OrderNotFound(DomainError):
    code = "order_not_found"
    status = 404
    message = "No order matches this order number and contact."


# 409 — inventory and order flow
class SoldOut(DomainError):
    code = "sold_out"
    status = 409
    message = "Sold out: not enough tickets left for this selection."


class SeatTaken(SoldOut):
    """A claimed unit (a seat, a room, a berth) is already taken on some leg it was asked for. A SoldOut, so
    every caller that handles a refused reservation handles this one; ``unit_ids`` name the taken units."""

    code = "seat_taken"
    message = "Some of the chosen seats were just taken. Choose other seats."


class SeatBlocked(DomainError):
    """Seats asked for are kept back by the operator (house, press, technical): ``seats`` lists them with their
    printed labels. Nothing was held."""

    code = "seat_blocked"
    status = 409
    message = "Some of the chosen seats are not for sale. Choose other seats."


class SeatNotOnSaleHere(DomainError):
    """Seats asked for are not on sale through the order's channel (the operator withheld them from it: kept
    for the box office, or a distributor's block): ``seats`` lists them with their printed labels, ``channel``
    names the channel. Nothing was held."""

    code = "seat_not_on_sale_here"
    status = 409
    message = "Some of the chosen seats are not on sale here. Choose other seats."


class SeatHeldThroughChannel(DomainError):
    """Seats asked to be withheld from a channel are held by an unpaid order of that channel (``seats`` with
    their labels, ``labels`` as text, ``channel``): withholding them would leave that order holding seats its
    channel may not sell. Nothing changed; wait until the order is paid or expires, or leave those seats out."""

    code = "seat_held_through_channel"
    status = 409
    message = "These seats are held by an unpaid order of this channel: {labels}. Nothing changed."


class SeatsUnavailable(DomainError):
    """Best available found no seats for the request (``free``: free seats of the zones asked for;
    ``largest_block``: the longest run of seats side by side). Nothing was held."""

    status = 409


class NoAdjacentBlock(SeatsUnavailable):
    code = "no_adjacent_block"
    message = "There are not that many seats side by side. Allow the group to be split, or ask for fewer seats."


class NotEnoughSeats(SeatsUnavailable):
    code = "not_enough_seats"
    message = "Not enough seats are left in this zone."


class NoWheelchairSpace(SeatsUnavailable):
    code = "no_wheelchair_space"
    message = "No wheelchair space with a companion seat is free in this zone."


class RestrictedViewOnly(SeatsUnavailable):
    """Only seats with a restricted or partial view (柱子票) would do, and the buyer did not allow them."""

    code = "restricted_view_only"
    message = (
        "Only seats with a restricted or partial view are left for this. "
        "Allow them, or choose another zone or fewer seats."
    )


class LegsOccupied(DomainError):
    """Legs of units asked to be kept back (blocked) are held or sold: ``legs`` maps each such unit id to its
    leg numbers (0-based), ``unit_ids`` lists those units. Nothing was blocked."""

    code = "legs_occupied"
    status = 409
    message = "Some of these seats are already held or sold on the legs asked for; nothing was kept back."


class SeatingLocked(DomainError):
    """A session's seating (its layout, hence its seats) cannot change once any of its places is held or sold:
    a buyer's seat would move under them."""

    code = "seating_locked"
    status = 409
    message = "Seats of this session are already held or sold; its seat layout can no longer change."


class LayoutInUse(DomainError):
    """A seat layout that sessions were given (``session_ids``) is kept: they remember where their seats came from."""

    code = "layout_in_use"
    status = 409
    message = "Sessions use this seat layout; it cannot be deleted."


class SeatRequired(DomainError):
    """A counted (general-admission) item names a ticket type of a session that sells assigned seats: such a
    session sells only seats (``ticket_type_id``, ``session_id``, ``field``: the item's place). Nothing was
    held."""

    code = "seat_required"
    status = 422
    message = 'This session sells assigned seats: choose seats (product "seat").'


class NotOnSale(DomainError):
    code = "not_on_sale"
    status = 409
    message = "This session is not on sale right now."


class SessionCancelled(DomainError):
    code = "session_cancelled"
    status = 409
    message = "This session was cancelled: nothing can be sold or paid for it any more."


class SessionEnded(DomainError):
    code = "session_ended"
    status = 409
    message = "This session has already ended; it can no longer be cancelled. Refund its orders one by one."


class HoldExpired(DomainError):
    code = "hold_expired"
    status = 410
    message = "The reservation has expired; the tickets were released."


class LockTimeout(DomainError):
    code = "busy"
    status = 503
    message = "The system is busy; please try again in a moment."


class IdempotencyConflict(DomainError):
    code = "idempotency_key_reused"
    status = 422
    message = "This Idempotency-Key was already used with a different request."


class IdempotencyInProgress(DomainError):
    code = "idempotency_in_progress"
    status = 409
    message = "A request with this Idempotency-Key is still being processed."


class Conflict(DomainError):
    code = "conflict"
    status = 409
    message = "The request conflicts with the current state."


# payments
class PaymentSignatureInvalid(DomainError):
    code = "invalid_signature"
    status = 400
    message = "The payment notification signature is not valid."


class PaymentMismatch(DomainError):
    code = "payment_mismatch"
    status = 409
    message = "The payment does not match the order (amount or currency)."


class RefundNotAllowed(DomainError):
    code = "refund_not_allowed"
    status = 409
    message = "This refund is not allowed: {reason}"


class RefundNotRetryable(DomainError):
    """A refund that cannot be asked of its provider again (``refund_id``, ``state``): ``succeeded`` — the
    provider paid it, and asking again could only pay it twice; ``in_progress`` — pending while the outbox still
    asks (it retries by itself; the refund becomes retryable once refused or once the outbox gives up);
    ``changed`` — another retry or the provider's answer changed it while this one was being made."""

    code = "refund_not_retryable"
    status = 409
    message = "This refund cannot be asked for again now."


class TicketUsed(DomainError):
    """Some tickets to refund were already admitted at a gate (``line_ids``, ``ticket_codes``). Staff with the
    refund permission may override with a written reason (``allow_used``)."""

    code = "ticket_used"
    status = 409
    message = (
        "Some of these tickets were already used at a gate and cannot be refunded. "
        "Refund them anyway only with the used-ticket override and a written reason."
    )


class ProviderUnavailable(DomainError):
    code = "provider_unavailable"
    status = 502
    message = "The payment provider did not answer; nothing was charged twice. Try again."


# tickets and check-in
class InvalidTicket(DomainError):
    code = "invalid_ticket"
    status = 404
    message = "This is not a valid ticket."


# pages
class CsrfFailed(DomainError):
    code = "csrf_failed"
    status = 403
    message = "This form has expired or did not come from this site. Go back, reload the page and try again."


class TooManyAttempts(DomainError):
    code = "too_many_attempts"
    status = 429
    message = "Too many failed attempts. Try again in {minutes} minute."
    message_plural = "Too many failed attempts. Try again in {minutes} minutes."
    counted_by = "minutes"


class InvalidAmount(DomainError):
    code = "invalid_amount"
    status = 422
    message = "Enter an amount in yuan, like 500 or 380.50."


# request limits (the API's guard, before any route runs)
class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status = 413
    message = "The request body is too large (at most {limit} bytes)."


class InvalidValue(DomainError):
    code = "invalid_value"
    status = 422
    message = "A value is out of range or cannot be stored."


# rate limits (piaowu.ratelimit); ``retry_after`` also becomes the response's Retry-After header
class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    message = "Too many requests. Try again in {retry_after} second."
    message_plural = "Too many requests. Try again in {retry_after} seconds."
    counted_by = "retry_after"


# seat exchange (issue 8, seatoffice)
class ExchangeNotAllowed(DomainError):
    """A ticket that cannot move to another seat: void or refunded, used at a gate, of an unpaid order, or not
    for a seat (``reason``)."""

    code = "exchange_not_allowed"
    status = 409
    message = "This ticket cannot move to another seat: {reason}."


class ExchangePriceDiffers(DomainError):
    """The new seat sells at another price for the ticket's type and the caller did not confirm that difference
    (``price_difference_minor``, new − old): the clerk must show it to the buyer first (``seat``,
    ``ticket_type``, ``new_price``, ``old_price``, ``difference``; ``difference_minor``, ``new_price_minor``,
    ``old_price_minor`` to confirm with)."""

    code = "exchange_price_differs"
    status = 409
    message = (
        "Seat {seat} costs {new_price} as {ticket_type}; this ticket was sold for {old_price}. "
        "Show the buyer the difference and confirm it to change seats."
    )
