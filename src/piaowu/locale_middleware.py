"""Which language a request reads catalog texts in (``core.reading_locale``), for pages and API alike."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from piaowu.core.reading_locale import reading
from piaowu.i18n import api_locale
from piaowu.web.templating import page_locale


def request_locale(request: Request) -> str:
    """Pages: the page's own language (``web.templating.page_locale``), so names match the words around them.
    The API: ``?lang=``, else Accept-Language (no cookie: API clients state what they want)."""
    if not request.url.path.startswith("/api/"):
        return page_locale(request)
    return api_locale(request.query_params.get("lang"), request.headers.get("accept-language"))


class ReadingLocale:
    """ASGI middleware: runs the request inside ``reading(<its language>)``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with reading(request_locale(Request(scope))):
            await self.app(scope, receive, send)
