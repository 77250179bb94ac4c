"""Writing catalog texts: the plain column and its ``_i18n`` map change together (rules in ``catalog.texts``)."""

from __future__ import annotations

from collections.abc import Mapping

from piaowu.catalog.texts import edited
from piaowu.core.errors import ValidationFailed
from piaowu.core.inputs import BLANK_MESSAGE
from piaowu.db.uow import UnitOfWork
from piaowu.organizers import service as organizers


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
