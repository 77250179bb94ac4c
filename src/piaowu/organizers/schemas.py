"""The organizer's own settings, as the API and the back office read and change them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from piaowu.core.inputs import MAX_ORIGINS
from piaowu.fields import Origin, PatchModel


class OrganizerSettingsOut(BaseModel):
    # Where a payment may send the buyer back, besides this server and the installation's list: the origins
    # (``https://tickets.grand-theatre.cn``) of the organizer's own sites, normalized.
    return_origins: list[str]


class OrganizerSettingsPatch(PatchModel):
    """Fields left out stay as they are. ``return_origins`` replaces the whole list (``[]`` empties it)."""

    return_origins: list[Origin] | None = Field(default=None, max_length=MAX_ORIGINS)
