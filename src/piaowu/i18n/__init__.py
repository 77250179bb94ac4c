"""Translations: gettext catalogs (``.po``) for zh-CN, English msgids as the source language.

Every ``*.po`` file under ``locales/<locale>/LC_MESSAGES/`` is merged, so each area keeps its own catalog
(``errors.po``, ``shop.po``, ``manage.po``, ``gate.po``…) and nobody edits a shared file. Catalogs are read
with Babel at start-up; no compile step.

Plurals are gettext's: ``msgid`` (the English singular), ``msgid_plural`` and ``msgstr[0]`` in the catalog, looked
up by the singular (``Translator.ngettext``). English picks the singular for exactly 1 and the plural otherwise;
Chinese has one form, so a zh catalog entry has only ``msgstr[0]``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
SUPPORTED = ("zh_CN", "en")
DEFAULT = "zh_CN"


@lru_cache
def _catalog(locale: str) -> dict[str, str]:
    table: dict[str, str] = {}
    folder = LOCALES_DIR / locale / "LC_MESSAGES"
    for path in sorted(folder.glob("*.po")):
        with path.open("rb") as fh:
            for message in read_po(fh, locale=locale):
                if not message.id or message.fuzzy:
                    continue
                # A plural entry (``msgid_plural``) reads as tuples: it is found by its singular, and zh_CN has
                # one form (``msgstr[0]``). An untranslated one (``msgstr[0] ""``) is left out like any other.
                key = message.id if isinstance(message.id, str) else message.id[0]
                value = message.string if isinstance(message.string, str) else message.string[0]
                if value:
                    table[key] = value
    return table


def normalize_locale(value: str | None) -> str:
    """'zh-CN', 'zh_cn', 'zh' → 'zh_CN'; 'en-US' → 'en'; anything else → None-safe default."""
    if not value:
        return DEFAULT
    v = value.strip().replace("-", "_").lower()
    if v.startswith("zh"):
        return "zh_CN"
    if v.startswith("en"):
        return "en"
    return DEFAULT


def negotiate(accept_language: str | None) -> str:
    """Pick zh_CN or en from an Accept-Language header (first supported wins)."""
    if not accept_language:
        return DEFAULT
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT


def api_locale(lang: str | None, accept_language: str | None) -> str:
    """An API request's language: ``?lang=``, else Accept-Language (no cookie: API clients state what they want)."""
    return normalize_locale(lang) if lang else negotiate(accept_language)


def gettext(locale: str, message: str) -> str:
    if locale == "en":
        return message
    return _catalog(locale).get(message, message)


def ngettext(locale: str, singular: str, plural: str, n: int) -> str:
    """The form of a counted message for ``n``: the catalog's (one form, read by the singular msgid) when the
    locale has it, else English's rule: the singular for exactly 1, the plural otherwise."""
    if locale != "en":
        found = _catalog(locale).get(singular)
        if found is not None:
            return found
    return singular if n == 1 else plural


def html_lang(locale: str) -> str:
    return "zh-CN" if locale == "zh_CN" else "en"


class Translator:
    """Bound to one locale; handed to templates as ``_``."""

    def __init__(self, locale: str) -> None:
        self.locale = normalize_locale(locale)

    def __call__(self, message: str, /, **params: object) -> str:
        text = gettext(self.locale, message)
        return text.format(**params) if params else text

    def ngettext(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        """A counted message: ``ngettext("{n} seat", "{n} seats", count, n=count)``. The count picks the form;
        placeholders are filled only from ``params`` (none given: the chosen form comes back unfilled, which is
        how pages hand a sentence to a script that fills it)."""
        text = ngettext(self.locale, singular, plural, n)
        return text.format(**params) if params else text
