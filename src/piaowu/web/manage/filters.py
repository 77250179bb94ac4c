"""Query parameters of the back-office pages (filters, periods, "show more" links), checked like form fields.

Pages declare every query parameter as text (an ``int`` parameter would make FastAPI answer a JSON error for
``?days=abc``) and read it through ``QueryCheck``: a value the page cannot use is named on the page itself, next
to its filter, and the list is not shown — never a 500, never silently ignored (which would show a list that
the filter in the address does not describe). The API answers 422 for the same values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from fastapi import Request

from piaowu.core.errors import ValidationFailed
from piaowu.core.errors import render as fill
from piaowu.core.inputs import fit
from piaowu.web.manage.common import FormErrors, translator

T = TypeVar("T")

BAD_CURSOR = "This “show more” link is not valid (it may come from an older page): start again from the first page."
CHOOSE = "Choose one of the options."
TOO_LONG = "Use at most {max_length} characters."


class QueryCheck:
    """Collects what is wrong with a page's query, as field → translated message (``errors``)."""

    def __init__(self, request: Request) -> None:
        self._ = translator(request)
        self.errors: FormErrors = {}

    def fail(self, field: str, message: str, **words: object) -> None:
        self.errors.setdefault(field, fill(self._(message), words))

    def one_of(self, field: str, value: str, allowed: Iterable[str], message: str = CHOOSE) -> str:
        """``value`` if it is one of ``allowed``; "" when it is empty (no filter) or not (then named)."""
        value = value.strip()
        if value and value not in set(allowed):
            self.fail(field, message, value=fit(value, 40))
            return ""
        return value

    def text(self, field: str, value: str, max_length: int) -> str:
        """A search term, trimmed; longer than the API allows → named."""
        value = value.strip()
        if len(value) > max_length:
            self.fail(field, TOO_LONG, max_length=max_length)
            return ""
        return value

    async def listing(self, load: Callable[[], Awaitable[T]]) -> T | None:
        """The page's list, or None when a filter was refused (then nothing is loaded) or the service refused the
        "show more" cursor (named for the whole page)."""
        if self.errors:
            return None
        try:
            return await load()
        except ValidationFailed as exc:
            if [e.get("field") for e in exc.errors] != ["cursor"]:
                raise
            self.fail("form", BAD_CURSOR)
            return None
