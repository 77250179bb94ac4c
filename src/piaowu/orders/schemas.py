"""Order requests and responses (API and pages share them)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import phonenumbers
from pydantic import BaseModel, Discriminator, EmailStr, Field, Tag, ValidationInfo, field_validator

from piaowu.fields import SHAPE_TAG, InputModel, Name, RequiredName, Text
from piaowu.tickets.schemas import EntitlementOut


class OrderItemIn(InputModel):
    """The counted shape: general admission, a ticket type and a quantity (as the API always accepted)."""

    ticket_type_id: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=1, le=100)


class HolderIn(InputModel):
    name: RequiredName = Field(max_length=100)


class SelectedItemIn(InputModel):
    """The selected shape: a product kind, what the buyer chose of it (checked by that product's resolver:
    ``unknown_product`` for a kind nobody sells) and, optionally, one holder per ticket."""

    product: str = Field(min_length=1, max_length=40)
    selection: dict[str, Any]
    holders: list[HolderIn] = Field(default_factory=list, max_length=100)


def _item_shape(value: Any) -> str:
    named = "product" in value if isinstance(value, dict) else isinstance(value, SelectedItemIn)
    return SHAPE_TAG + ("selected" if named else "counted")


# Tagged by the presence of ``product``, so a problem names the one shape the client meant (the tag itself is
# left out of error paths: ``items.0.quantity``, as before).
ItemIn = Annotated[
    Annotated[OrderItemIn, Tag(SHAPE_TAG + "counted")] | Annotated[SelectedItemIn, Tag(SHAPE_TAG + "selected")],
    Discriminator(_item_shape),
]


_MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _prefix_pattern(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


_CN = phonenumbers.PhoneMetadata.metadata_for_region("CN")
# What ``phonenumbers.parse`` would read at the start of a mainland number written as plain digits: an
# international dialling prefix (``00``, or a carrier's ``1xxxx00``), or a national prefix (``0``, a carrier
# code ``1xxxx``). A number that starts with neither is the national number itself.
_CN_IDD = _prefix_pattern(_CN.international_prefix if _CN else None)
_CN_NATIONAL_PREFIX = _prefix_pattern(_CN.national_prefix_for_parsing if _CN else None)


def _plain_cn_number(value: str, region: str) -> phonenumbers.PhoneNumber | None:
    """``phonenumbers.parse(value, region)`` without its general machinery, for the form almost every buyer types:
    11 ASCII digits from 1 (a mainland mobile number) and no prefix the parser would strip, so the national
    number is the digits themselves. ``None``: any other input — the parser decides. py-spy put ``parse`` at ~3% of a
    created order's CPU; tests/unit/test_phone_fast_path.py checks the two agree (Hypothesis, against the library)."""
    if (
        region != "CN"
        or _CN is None
        or len(value) != 11
        or value[0] != "1"
        or not (value.isascii() and value.isdigit())
        or (_CN_IDD is not None and _CN_IDD.match(value))
        or (_CN_NATIONAL_PREFIX is not None and _CN_NATIONAL_PREFIX.match(value))
    ):
        return None
    return phonenumbers.PhoneNumber(country_code=_CN.country_code, national_number=int(value))


def normalize_phone(value: str, region: str = "CN") -> str:
    """→ E.164 (``+8613812345678``). Raises ValueError with a sentence a buyer understands."""
    number = _plain_cn_number(value, region)
    if number is None:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            raise ValueError("Enter a valid mobile number.") from None
    # ``number_type`` is UNKNOWN exactly when ``is_valid_number`` is false (both test the number against its
    # region's patterns): one pass over them instead of two.
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        raise ValueError("Enter a valid mobile number.")
    if kind not in _MOBILE_TYPES:
        raise ValueError("Enter a mobile number (we send tickets by SMS).")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class BuyerIn(InputModel):
    name: Name = Field(min_length=1, max_length=100)
    phone: str = Field(min_length=3, max_length=32)
    email: EmailStr | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("Enter the buyer's name.")
        return v

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        return normalize_phone(v)


class OrderIn(InputModel):
    """Create an order: ticket types and quantities (or products and selections), and who buys. Units are held
    until ``expires_at``."""

    items: list[ItemIn] = Field(min_length=1, max_length=20)
    buyer: BuyerIn


class TicketBrief(BaseModel):
    id: str
    code: str
    status: str
    entries_used: int
    entries_allowed: int
    qr_payload: str  # the signed string encoded in the QR code
    last_entry_at: datetime | None = None  # the latest admission at a gate, if any
    last_gate: str = ""
    entitlements: list[EntitlementOut] = Field(
        default_factory=list, description="What it admits to; `entries_allowed`/`entries_used` are their sums."
    )


class SeatOut(BaseModel):
    """An assigned seat as printed on the ticket."""

    section: str
    row: str
    number: str


class OrderLineOut(BaseModel):
    id: str
    session_id: str
    ticket_type_id: str
    ticket_type_name: str
    price_minor: int
    status: str
    holder_name: str = ""  # the ticket's holder, when the order named one per ticket
    event_name: str = ""
    session_name: str = ""
    starts_at: datetime | None = None
    seat: SeatOut | None = None  # the assigned seat (section, row, number); null for general admission
    ticket: TicketBrief | None = None


class PaymentBrief(BaseModel):
    id: str
    provider: str
    status: str
    amount_minor: int
    refunded_minor: int
    created_at: datetime
    succeeded_at: datetime | None


class OrderOut(BaseModel):
    id: str
    code: str
    status: str
    channel: str
    buyer_name: str
    buyer_phone: str
    buyer_email: str
    total_minor: int
    paid_minor: int
    refunded_minor: int
    currency: str
    expires_at: datetime | None
    created_at: datetime
    paid_at: datetime | None
    lines: list[OrderLineOut]
    payments: list[PaymentBrief] = []


class OrderStatusOut(BaseModel):
    """What a "waiting for payment" screen polls: cheap to read, and ``paid`` means the tickets are issued
    (both happen in one transaction)."""

    id: str
    status: str
    expires_at: datetime | None
    paid_at: datetime | None
    order: OrderOut | None = Field(
        default=None,
        description="the whole order (lines, tickets, payments) when asked with `with_order=true` and the answer is "
        "final (not `pending`): the waiting page needs no second request",
    )


class OrderSummary(BaseModel):
    id: str
    code: str
    status: str
    channel: str
    buyer_name: str
    buyer_phone: str
    total_minor: int
    currency: str
    tickets: int
    created_at: datetime
    expires_at: datetime | None


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_cursor: str | None


class OrderLookupIn(InputModel):
    code: str = Field(min_length=4, max_length=20)
    contact: str = Field(min_length=3, max_length=254)  # the buyer's mobile number or e-mail


class CashPaymentIn(InputModel):
    method: str = Field(default="cash", pattern="^(cash|card_terminal)$")
    tendered_minor: int | None = Field(default=None, ge=0, le=10**12, strict=True)


class CounterSaleIn(OrderIn):
    """A box-office sale: the order and its counter payment, created together in one transaction."""

    payment: CashPaymentIn = Field(default_factory=CashPaymentIn)


class OnlinePaymentIn(InputModel):
    provider: str = Field(default="sandbox", pattern="^sandbox$")
    return_url: str = Field(default="", max_length=500)


class PaymentStartOut(BaseModel):
    payment_id: str
    provider: str
    redirect_url: str
    status: str


class RefundIn(InputModel):
    """Refund whole tickets: their price goes back to the payer, the tickets are voided, the units return.

    A ticket already admitted at a gate is refused (``ticket_used``) unless ``allow_used`` is true, which needs a
    written ``reason``; the money of a used ticket is refunded then, but its place does not go back on sale."""

    line_ids: list[str] | None = Field(default=None, max_length=100)  # None = every ticket not yet refunded
    allow_used: bool = False  # the override: refund tickets that were already admitted at a gate
    # Validated even when absent (the override needs it); declared after ``allow_used`` so its validator sees it.
    reason: Text = Field(default="", max_length=200, validate_default=True)

    @field_validator("reason")
    @classmethod
    def _reason(cls, v: str, info: ValidationInfo) -> str:
        v = v.strip()
        if info.data.get("allow_used") and not v:
            raise ValueError("Write why tickets already used at a gate are refunded.")
        return v


class SessionCancelIn(InputModel):
    """Cancel a session: its orders are cancelled or refunded in full by a job; the reason goes to the buyers."""

    reason: Text = Field(default="", max_length=200)
