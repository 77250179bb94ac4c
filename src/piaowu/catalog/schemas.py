"""Catalog requests and responses (API and pages share them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, Strict

from piaowu.catalog.rules import EventKind, SessionStatus
from piaowu.catalog.text_fields import EventDescriptionTexts, NameTexts, TicketTypeDescriptionTexts
from piaowu.fields import InputModel, Moment, Name, PatchModel, RequiredName, Text

Kind = Annotated[EventKind, Strict(False)]  # JSON sends the value ("performance")
Status = Annotated[SessionStatus, Strict(False)]


class EventIn(InputModel):
    # ``name`` is the organizer's default language's text; ``name_i18n`` gives any language's (one is needed).
    name: RequiredName | None = Field(default=None, min_length=1, max_length=200)
    name_i18n: NameTexts | None = None
    kind: Kind = EventKind.PERFORMANCE
    description: Text = Field(default="", max_length=20_000)
    description_i18n: EventDescriptionTexts | None = None
    venue_id: str | None = Field(default=None, max_length=26)  # a venue record; else venue_name finds or makes one
    venue_name: Name = Field(default="", max_length=200)
    venue_address: Name = Field(default="", max_length=500)
    is_published: bool = False


class EventPatch(PatchModel):
    NULLABLE = frozenset({"venue_id"})  # null: no venue

    name: RequiredName | None = Field(default=None, min_length=1, max_length=200)
    name_i18n: NameTexts | None = None
    description: Text | None = Field(default=None, max_length=20_000)
    description_i18n: EventDescriptionTexts | None = None
    venue_id: str | None = Field(default=None, max_length=26)
    venue_name: Name | None = Field(default=None, max_length=200)
    venue_address: Name | None = Field(default=None, max_length=500)
    is_published: bool | None = None


class SessionIn(InputModel):
    name: Name = Field(default="", max_length=200)
    name_i18n: NameTexts | None = None
    starts_at: Moment
    ends_at: Moment
    sales_start: Moment | None = None
    sales_end: Moment | None = None
    capacity: int = Field(ge=0, le=10_000_000)
    admission_opens_minutes: int = Field(default=120, ge=0, le=24 * 60)
    status: Status = SessionStatus.DRAFT


class SessionPatch(PatchModel):
    NULLABLE = frozenset({"sales_start", "sales_end"})

    name: Name | None = Field(default=None, max_length=200)
    name_i18n: NameTexts | None = None
    starts_at: Moment | None = None
    ends_at: Moment | None = None
    sales_start: Moment | None = None
    sales_end: Moment | None = None
    capacity: int | None = Field(default=None, ge=0, le=10_000_000)
    admission_opens_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    status: Status | None = None


class TicketTypeIn(InputModel):
    name: RequiredName | None = Field(default=None, min_length=1, max_length=200)  # or name_i18n
    name_i18n: NameTexts | None = None
    description: Text = Field(default="", max_length=2000)
    description_i18n: TicketTypeDescriptionTexts | None = None
    price_minor: int = Field(ge=0, le=100_000_000, strict=True)  # minor units: "18.00" or 18.5 is refused
    quota: int | None = Field(default=None, ge=0, le=10_000_000)
    min_per_order: int = Field(default=1, ge=1, le=100)
    max_per_order: int = Field(default=10, ge=1, le=100)
    sort_order: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    is_active: bool = True


class TicketTypePatch(PatchModel):
    NULLABLE = frozenset({"quota"})  # null removes the quota

    name: RequiredName | None = Field(default=None, min_length=1, max_length=200)
    name_i18n: NameTexts | None = None
    description: Text | None = Field(default=None, max_length=2000)
    description_i18n: TicketTypeDescriptionTexts | None = None
    price_minor: int | None = Field(default=None, ge=0, le=100_000_000, strict=True)
    quota: int | None = Field(default=None, ge=0, le=10_000_000)
    min_per_order: int | None = Field(default=None, ge=1, le=100)
    max_per_order: int | None = Field(default=None, ge=1, le=100)
    sort_order: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)
    is_active: bool | None = None


class TicketTypeOut(BaseModel):
    id: str
    session_id: str
    name: str  # in the request's language (?lang=, Accept-Language), else the organizer's default, else any
    description: str
    name_i18n: dict[str, str] = {}  # every language's text
    description_i18n: dict[str, str] = {}
    price_minor: int
    currency: str
    quota: int | None
    min_per_order: int
    max_per_order: int
    sort_order: int
    is_active: bool
    available: int  # capacity − held − sold over every pool this ticket type consumes
    sold: int  # tickets of this type sold (paid, not refunded): its quota pool's count, or its own order lines
    definition_id: str | None = None  # the event-level ticket type it was made from (sessions in series)
    price_overridden: bool = False  # its price was set on this session: the definition's price no longer applies


class SessionOut(BaseModel):
    id: str
    event_id: str
    name: str
    name_i18n: dict[str, str] = {}
    starts_at: datetime
    ends_at: datetime
    sales_start: datetime | None
    sales_end: datetime | None
    status: str
    sale_state: str
    capacity: int
    held: int
    sold: int
    available: int
    admission_opens_minutes: int
    ticket_types: list[TicketTypeOut] = []


class EventOut(BaseModel):
    id: str
    kind: str
    name: str
    description: str
    name_i18n: dict[str, str] = {}
    description_i18n: dict[str, str] = {}
    venue_id: str | None = None
    venue_name: str
    venue_address: str
    venue_timezone: str = ""  # the venue's IANA zone, "" when it has none (times are then the organizer's)
    is_published: bool
    created_at: datetime
    sessions: list[SessionOut] = []


class TicketTypeAvailabilityOut(BaseModel):
    id: str
    available: int  # what this ticket type can still sell
    order_limit: int  # the most one order can take now


class SessionAvailabilityOut(BaseModel):
    """What a buyer's page polls during a sale: numbers and states only (no texts: the same in every language)."""

    session_id: str
    state: str  # on_sale, low, sold_out, held_out, not_yet, ended, paused (catalog.rules.availability)
    buyable: bool
    left: int
    ticket_types: list[TicketTypeAvailabilityOut]
    as_of: datetime  # when this was read from the database; served until at most shop_cache_seconds later


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None
