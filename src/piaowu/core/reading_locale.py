"""The language the current request is read in, for the catalog texts it shows (names, descriptions, venues).

Set once per request by ``piaowu.locale_middleware`` (pages: ``?lang=``, the ``lang`` cookie, Accept-Language;
API: ``?lang=``, Accept-Language) and read by the catalog's read models, so that every area that prints a
catalog name (orders, tickets, gates) gets it in the reader's language without each passing a language along.
Outside a request (workers, scripts) nothing is set and readers get the organizer's default language.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("reading_locale", default=None)


def current() -> str | None:
    """The reader's locale (``zh_CN``, ``en``…), or None outside a request."""
    return _current.get()


@contextmanager
def reading(locale: str | None) -> Iterator[None]:
    """Read catalog texts in ``locale`` inside the block."""
    token = _current.set(locale)
    try:
        yield
    finally:
        _current.reset(token)
