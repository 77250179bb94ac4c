"""Catalog forms write each translatable field once per language: ``name_zh`` and ``name_en`` inputs become the
``name_i18n`` map of the request schema (``catalog.text_fields``), and back for an edit form."""

from __future__ import annotations

from typing import Any

from piaowu.catalog.texts import CONTENT_LOCALES


def form_key(field: str, locale: str) -> str:
    """``name`` + ``zh-CN`` → ``name_zh``: the input's name (and the key its error is shown under)."""
    return f"{field}_{locale.split('-')[0].lower()}"


def texts_from_form(form: dict[str, str], field: str) -> dict[str, Any]:
    """The schema's fields for ``field``: ``{field}_i18n`` from the inputs of each language the form has (an
    empty input removes that language's text), and the plain ``field`` when a form sends one (the default
    language's text, as forms did before languages)."""
    out: dict[str, Any] = {}
    texts = {loc: form[form_key(field, loc)] for loc in CONTENT_LOCALES if form_key(field, loc) in form}
    if texts:
        out[f"{field}_i18n"] = texts
    if field in form:
        out[field] = form[field]
    return out


def form_values(field: str, plain: str, texts: dict[str, str], default: str) -> dict[str, Any]:
    """An edit form's inputs of ``field``. A row written with only its plain column shows it as the organizer's
    default language's."""
    shown = dict(texts) if any(texts.values()) else ({default: plain} if plain else {})
    return {form_key(field, loc): shown.get(loc, "") for loc in CONTENT_LOCALES}


def error_keys(*fields: str) -> dict[str, str]:
    """Where the errors of ``fields`` show: a missing text under the first language's input (the map's own
    entries, ``name_i18n.en``, are reported as ``name_en`` by ``web.manage.common.pydantic_errors``)."""
    return {field: form_key(field, CONTENT_LOCALES[0]) for field in fields}


def languages() -> list[tuple[str, str]]:
    """(locale, input suffix) of every catalog language, for the templates."""
    return [(loc, form_key("", loc).lstrip("_")) for loc in CONTENT_LOCALES]
