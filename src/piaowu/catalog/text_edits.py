"""Writing catalog texts: the plain column and its ``_i18n`` map change together (rules in ``catalog.texts``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from piaowu.catalog.models import Event, EventTicketType, Session, TicketType, Venue
from piaowu.catalog.texts import edited, rebased
from piaowu.core.actor import Actor
from piaowu.core.errors import ValidationFailed
from piaowu.core.inputs import BLANK_MESSAGE
from piaowu.db.uow import UnitOfWork
from piaowu.organizers import service as organizers
from piaowu.organizers.schemas import OrganizerSettingsOut, OrganizerSettingsPatch


async def default_locale(uow: UnitOfWork, organizer_id: str) -> str:
    """The language the organizer's plain texts are in."""
    return (await organizers.get_organizer(uow, organizer_id)).default_locale


def set_texts(
    obj: object,
    field: str,
    plain: str | None,
    i18n: Mapping[str, str] | None,
    default: str,
    *,
    required: bool = False,
) -> None:
    """Applies an edit of ``field`` (plain text and/or texts by language; None: unchanged) to ``obj``'s
    ``field`` and ``field_i18n``. A required field left with no text in any language is a ``missing`` error."""
    stored = getattr(obj, field, None) or ""
    if plain is None and i18n is None:
        value, texts = stored, None
    else:
        value, texts = edited(stored, getattr(obj, f"{field}_i18n", None), plain, i18n, default)
    if required and not value:
        raise ValidationFailed([{"field": field, "code": "missing", "message": BLANK_MESSAGE}])
    if texts is not None:
        setattr(obj, field, value)
        setattr(obj, f"{field}_i18n", texts)


# Every translatable text of the catalog: (table, its fields). A new one belongs here, or a change of the default
# language leaves its plain column in the old one.
TRANSLATED: tuple[tuple[type[Any], tuple[str, ...]], ...] = (
    (Venue, ("name", "address")),
    (Event, ("name", "description")),
    (Session, ("name",)),
    (TicketType, ("name", "description")),
    (EventTicketType, ("name", "description")),
)


async def update_organizer_settings(
    uow: UnitOfWork, actor: Actor, data: OrganizerSettingsPatch
) -> OrganizerSettingsOut:
    """The organizer's settings as the API and the back office change them (``organizers.update_settings``),
    and a new catalog default language: every plain text column of the organizer's catalog moves to it in the
    same transaction (``catalog.texts.rebased``: the new language's text, or the old one's where the new is
    missing), so a reader whose language a text lacks reads the new default from now on. Nothing else is read
    in another language: names already written on orders and tickets stay as they were."""
    if data.default_locale is not None:
        old = await organizers.set_default_locale(uow, actor, data.default_locale)
        if old != data.default_locale:
            await _rebase_texts(uow, actor.organizer_id, old, data.default_locale)
    return await organizers.update_settings(uow, actor, data.model_copy(update={"default_locale": None}))


async def _rebase_texts(uow: UnitOfWork, organizer_id: str, old: str, new: str) -> None:
    for model, fields in TRANSLATED:
        rows = await uow.session.scalars(select(model).where(model.organizer_id == organizer_id))
        for row in rows:
            for field in fields:
                plain, texts = rebased(getattr(row, field) or "", getattr(row, f"{field}_i18n", None), old, new)
                if plain != getattr(row, field):
                    setattr(row, field, plain)
                if texts != (getattr(row, f"{field}_i18n", None) or {}):
                    setattr(row, f"{field}_i18n", texts)
