"""The organizer's own settings, as the API and the back office read and change them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from piaowu.core.inputs import MAX_ORIGINS
from piaowu.core.languages import ContentLocale
from piaowu.fields import Origin, PatchModel, RequiredName, RequiredTimeZone


class OrganizerSettingsOut(BaseModel):
    name: str  # as the shop, tickets and the back office show the organization
    # Times are shown in it (a venue may have its own); "today" of the dashboard is its calendar day.
    timezone: str
    # The language the catalog is written in first: new texts without a language are its, and a reader whose
    # language a text lacks reads it in this one.
    default_locale: str
    currency: str  # set when the organizer is created; prices are in it
    # Where a payment may send the buyer back, besides this server and the installation's list: the origins
    # (``https://tickets.grand-theatre.cn``) of the organizer's own sites, normalized.
    return_origins: list[str]


class OrganizerSettingsPatch(PatchModel):
    """Fields left out stay as they are. ``return_origins`` replaces the whole list (``[]`` empties it)."""

    name: RequiredName | None = Field(default=None, min_length=1, max_length=200)
    timezone: RequiredTimeZone | None = None
    default_locale: ContentLocale | None = None  # type: ignore[valid-type]
    return_origins: list[Origin] | None = Field(default=None, max_length=MAX_ORIGINS)
