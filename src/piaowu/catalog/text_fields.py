"""Request and response fields for catalog texts in several languages: ``{"zh-CN": "…", "en": "…"}``.

Only the languages of ``core.languages.CONTENT_LOCALES`` are accepted as keys (anything else is a 422 naming the
key), and each text obeys the same rules and length as the plain field it translates. An empty text removes
that language's.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from piaowu.core.inputs import clean_name, clean_text
from piaowu.core.languages import ContentLocale


def _names(max_length: int) -> type:
    text = Annotated[str, Field(max_length=max_length), AfterValidator(clean_name)]
    return dict[ContentLocale, text]  # type: ignore[valid-type,return-value]


def _texts(max_length: int) -> type:
    text = Annotated[str, Field(max_length=max_length), AfterValidator(clean_text)]
    return dict[ContentLocale, text]  # type: ignore[valid-type,return-value]


NameTexts = _names(200)
AddressTexts = _names(500)
EventDescriptionTexts = _texts(20_000)
TicketTypeDescriptionTexts = _texts(2000)
