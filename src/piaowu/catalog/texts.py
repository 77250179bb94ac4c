"""Catalog texts in several languages: which text a reader sees, and how an edit changes the stored texts. Pure.

A translatable field is stored twice (see docs/architecture.md, "Catalog texts in several languages"): a map
``{locale: text}`` of every language it was written in (``name_i18n``), and the plain column (``name``) holding
the text in the organizer's default language, or the best there is when that one is missing. Readers that do
not care about languages (reports, pool labels, audit) keep reading the plain column.

Locales are BCP 47 tags as the API shows them (``zh-CN``, ``en``); UI locales (``zh_CN``) are accepted too.
"""

from __future__ import annotations

from collections.abc import Mapping

from piaowu.core.languages import CONTENT_LOCALES, DEFAULT_CONTENT_LOCALE

__all__ = ["CONTENT_LOCALES", "DEFAULT_CONTENT_LOCALE", "content_locale", "edited", "merged", "pick", "rebased"]


def content_locale(value: str | None) -> str | None:
    """``zh_CN``, ``zh-cn``, ``zh`` → ``zh-CN``; ``en-US`` → ``en``; a language we do not hold → None."""
    if not value:
        return None
    v = value.strip().replace("_", "-").lower()
    for loc in CONTENT_LOCALES:
        low = loc.lower()
        if v == low or v.split("-")[0] == low.split("-")[0]:
            return loc
    return None


def pick(texts: Mapping[str, str] | None, wanted: str | None, fallback: str = "", default: str | None = None) -> str:
    """The text a reader of ``wanted`` sees: theirs; else the organizer's ``default`` language's; else
    ``fallback`` (the plain column, itself the default language's text); else any language there is, in
    ``CONTENT_LOCALES`` order. Empty texts count as missing."""
    texts = texts or {}
    for loc in (content_locale(wanted), content_locale(default)):
        if loc and texts.get(loc):
            return texts[loc]
    if fallback:
        return fallback
    for loc in (*CONTENT_LOCALES, *sorted(texts)):
        if texts.get(loc):
            return texts[loc]
    return ""


def merged(current: Mapping[str, str] | None, changes: Mapping[str, str]) -> dict[str, str]:
    """``current`` with ``changes`` applied: a text replaces that language's, an empty one removes it."""
    out = dict(current or {})
    for loc, text in changes.items():
        if text:
            out[loc] = text
        else:
            out.pop(loc, None)
    return out


def edited(
    stored_plain: str,
    stored: Mapping[str, str] | None,
    plain: str | None,
    i18n: Mapping[str, str] | None,
    default: str,
) -> tuple[str, dict[str, str]]:
    """The plain column and the map after an edit that sent the plain field (``plain``: the ``default``
    language's text, as clients that know nothing of languages send it) and/or the map (``i18n``, which wins
    for the languages it names). ``None`` leaves a side unchanged. A row whose map lacks its plain text (written by
    code that only set the plain column) keeps that text as the default language's."""
    current = dict(stored or {})
    if stored_plain and stored_plain not in current.values():
        current[default] = stored_plain
    changes: dict[str, str] = {}
    if plain is not None:
        changes[default] = plain
    changes.update(i18n or {})
    texts = merged(current, changes)
    return pick(texts, default), texts


def rebased(stored_plain: str, stored: Mapping[str, str] | None, old: str, new: str) -> tuple[str, dict[str, str]]:
    """The plain column and the map of a text when the organizer's default language changes from ``old`` to
    ``new``: the plain column becomes ``new``'s text, or ``old``'s where there is none in ``new`` (a reader is never
    left with less than before). A plain text missing from the map (written by code that only set the plain
    column) is kept in the map as ``old``'s first, so nothing written is lost."""
    _, texts = edited(stored_plain, stored, None, None, old)
    return pick(texts, new, default=old), texts
