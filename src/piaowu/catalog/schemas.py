"""Catalog requests and responses (API and pages share them)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from piaowu.catalog.rules import EventKind


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: EventKind = EventKind.PERFORMANCE
    description: str = Field(default="", max_length=20_000)
    venue_name: str = Field(default="", max_length=200)
    venue_address: str = Field(default="", max_length=500)
    is_published: bool = False


class EventPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    venue_name: str | None = Field(default=None, max_length=200)
    venue_address: str | None = Field(default=None, max_length=500)
    is_published: bool | None = None


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    sales_start: AwareDatetime | None = None
    sales_end: AwareDatetime | None = None
    capacity: int = Field(ge=0, le=10_000_000)
    admission_opens_minutes: int = Field(default=120, ge=0, le=24 * 60)
    status: str = "draft"


class SessionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    sales_start: AwareDatetime | None = None
    sales_end: AwareDatetime | None = None
    capacity: int | None = Field(default=None, ge=0, le=10_000_000)
    admission_opens_minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    status: str | None = None


class TicketTypeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    price_minor: int = Field(ge=0, le=100_000_000, strict=True)  # minor units: "18.00" or 18.5 is refused
    quota: int | None = Field(default=None, ge=0, le=10_000_000)
    min_per_order: int = Field(default=1, ge=1, le=100)
    max_per_order: int = Field(default=10, ge=1, le=100)
    sort_order: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    is_active: bool = True


class TicketTypePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    price_minor: int | None = Field(default=None, ge=0, le=100_000_000, strict=True)
    quota: int | None = Field(default=None, ge=0, le=10_000_000)
    min_per_order: int | None = Field(default=None, ge=1, le=100)
    max_per_order: int | None = Field(default=None, ge=1, le=100)
    sort_order: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)
    is_active: bool | None = None


class TicketTypeOut(BaseModel):
    id: str
    session_id: str
    name: str
    description: str
    price_minor: int
    currency: str
    quota: int | None
    min_per_order: int
    max_per_order: int
    sort_order: int
    is_active: bool
    available: int  # capacity − held − sold over every pool this ticket type consumes
    sold: int  # sold of this ticket type (its quota pool), or of the session when it has no quota


class SessionOut(BaseModel):
    id: str
    event_id: str
    name: str
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
    venue_name: str
    venue_address: str
    is_published: bool
    created_at: datetime
    sessions: list[SessionOut] = []


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None
