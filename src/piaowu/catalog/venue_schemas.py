"""Venue requests and responses (API and pages share them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from piaowu.catalog.text_fields import AddressTexts, NameTexts
from piaowu.fields import InputModel, Name, PatchModel, RequiredName, TimeZone

Entrance = Annotated[RequiredName, Field(min_length=1, max_length=100)]
Entrances = Annotated[list[Entrance], Field(max_length=50)]


class VenueIn(InputModel):
    # ``name`` is the organizer's default language's text; ``name_i18n`` gives any language's (one is needed).
    name: RequiredName | None = Field(default=None, min_length=1, max_length=200)
    name_i18n: NameTexts | None = None
    address: Name = Field(default="", max_length=500)
    address_i18n: AddressTexts | None = None
    timezone: TimeZone = ""
    entrances: Entrances = []


class VenuePatch(PatchModel):
    name: RequiredName | None = Field(default=None, min_length=1, max_length=200)
    name_i18n: NameTexts | None = None
    address: Name | None = Field(default=None, max_length=500)
    address_i18n: AddressTexts | None = None
    timezone: TimeZone | None = None
    entrances: Entrances | None = None  # replaces the list


class VenueOut(BaseModel):
    id: str
    name: str  # in the request's language, else the organizer's default, else any
    name_i18n: dict[str, str]
    address: str
    address_i18n: dict[str, str]
    timezone: str  # "" when the venue has none: times are then the organizer's
    entrances: list[str]
    created_at: datetime


class VenuePage(BaseModel):
    items: list[VenueOut]
    next_cursor: str | None
