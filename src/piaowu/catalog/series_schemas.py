"""Requests and responses of sessions in series and event-level ticket types (API and pages share them)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from pydantic import BaseModel, Field, Strict, field_validator

from piaowu.catalog.rules import SessionStatus
from piaowu.catalog.schemas import TicketTypeIn, TicketTypePatch
from piaowu.catalog.series_rules import MAX_DURATION_MINUTES
from piaowu.fields import InputModel, Name

Status = Annotated[SessionStatus, Strict(False)]
# JSON sends dates and times as ISO strings ("2026-07-01", "19:30"): strict mode would refuse them.
Day = Annotated[date, Strict(False)]
Clock = Annotated[time, Strict(False)]


class EventTicketTypeIn(TicketTypeIn):
    """A ticket type of the whole event: every session generated from now on sells one like it, with
    ``price_minor`` as its price and ``quota`` as its own quota per session (None: it shares the capacity)."""

    # Also give it to the event's sessions that exist now and are neither cancelled nor over (each gets a linked
    # ticket type, as generation would). False: only sessions generated from now on sell it.
    add_to_sessions: bool = False


class EventTicketTypePatch(TicketTypePatch):
    """An edit of an event's ticket type (``quota``: null means sessions generated from now on get none)."""


class EventTicketTypeOut(BaseModel):
    id: str
    event_id: str
    name: str  # in the reader's language (see the catalog's other answers)
    name_i18n: dict[str, str] = {}  # every language's text
    description: str
    description_i18n: dict[str, str] = {}
    price_minor: int
    currency: str
    quota: int | None
    min_per_order: int
    max_per_order: int
    sort_order: int
    is_active: bool
    sessions: int  # session ticket types linked to it
    applied_to: int | None = None  # on an edit: how many session ticket types took the change


class SeriesIn(InputModel):
    """A recurrence rule and what each of its sessions gets. ``dry_run``: answer the list, write nothing."""

    first_date: Day
    last_date: Day
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default=[0, 1, 2, 3, 4, 5, 6], min_length=1, max_length=7
    )  # 0 = Monday … 6 = Sunday
    start_times: list[Clock] = Field(min_length=1, max_length=48)  # wall clock in ``timezone``
    duration_minutes: int = Field(ge=1, le=MAX_DURATION_MINUTES)
    timezone: Name | None = Field(default=None, max_length=64)  # IANA name; default: the organizer's
    excluded_dates: list[Day] = Field(default=[], max_length=1000)
    name: Name = Field(default="", max_length=200)  # each session's name
    capacity: int = Field(ge=0, le=10_000_000)  # each session's own pool
    status: Status = SessionStatus.DRAFT
    admission_opens_minutes: int = Field(default=120, ge=0, le=24 * 60)
    sales_opens_days_before: int | None = Field(default=None, ge=0, le=3 * 366)
    sales_closes_minutes_before: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    dry_run: bool = False

    @field_validator("status")
    @classmethod
    def _new_sessions_only(cls, value: SessionStatus) -> SessionStatus:
        if value not in (SessionStatus.DRAFT, SessionStatus.ON_SALE):
            raise ValueError("New sessions start as drafts or on sale.")
        return value


class SeriesSessionOut(BaseModel):
    starts_at: datetime
    ends_at: datetime
    sales_start: datetime | None
    sales_end: datetime | None
    exists: bool  # the event already has a session starting then: it is left as it is
    session_id: str | None  # the existing or the new session (None in a dry run for a session to make)


class SeriesOut(BaseModel):
    dry_run: bool
    timezone: str
    planned: int  # sessions the rule stands for
    created: int  # sessions made now (0 in a dry run)
    existing: int  # sessions of the rule the event already had
    ticket_types: int  # definitions each new session got a ticket type of
    sessions: list[SeriesSessionOut]
