"""Security headers on every response: pages, the API, static files, errors and redirects alike.

Pages get a Content-Security-Policy that allows only this site's own scripts and styles (no inline script,
no ``style=`` attributes: the templates use classes and /static files), no framing, no plug-ins. The gate
scanner reads the camera, so the Permissions-Policy keeps ``camera`` for this site and refuses it to others.
The JSON API gets ``default-src 'none'``: nothing it answers is meant to run or render in a browser.

And how an answer may be cached, where its route does not say. A page is written for one visitor (its CSRF
token, a signed-in clerk's orders, the buyer's language): never kept by a shared cache (``private``), and
asked for again before the browser shows it again (``no-cache``). The back office and the gate are ``no-store``:
buyers' names and phone numbers on a box-office terminal that clerks share must not come back from the browser's
cache after a sign-out (what Django's admin does with ``never_cache``). Pages and API answers are written in the
language ``Accept-Language`` asks for when neither ``?lang=`` nor the ``lang`` cookie says
(``web.templating.page_locale``, ``i18n.api_locale``): names, descriptions, error messages. So pages, API errors
and API answers whose route says nothing of caching say ``Vary: Accept-Language``. A route that sets its own
Cache-Control decides its Vary too: the answers polled during a sale (availability, seat states) have no texts
and stay one per URL for a shared cache; the seat map, which names ticket types, says it (``VARY_LANGUAGE``).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from piaowu.core.inputs import origin_of

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
}

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The API reference (api/docs_page.py): Swagger UI from our own files; it sets styles from script and shows
# data: images, nothing more.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'"
)


def page_csp(form_targets: Iterable[str] = ()) -> str:
    """The pages' policy. ``form_targets``: other origins a form may lead to (the sandbox gateway sends the buyer
    back to a payment's ``return_url``, which may be on an allowed origin of the organizer's own site)."""
    extra = sorted({o for o in (origin_of(x) for x in form_targets) if o})
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action " + " ".join(["'self'", *extra]),
            "frame-ancestors 'none'",
        ]
    )


# A page's Cache-Control when its route sets none (the shop's order pages set ``private, no-store``: tickets).
PAGE_CACHE = b"private, no-cache"
STAFF_CACHE = b"no-store"
STAFF_AREAS = ("/manage", "/gate")
# What a route that sets its own Cache-Control adds when its answer prints texts in the reader's language.
VARY_LANGUAGE = {"Vary": "Accept-Language"}


def page_cache_control(path: str) -> bytes:
    """The default Cache-Control of an HTML page at ``path``: staff areas are never stored."""
    staff = any(path == area or path.startswith(area + "/") for area in STAFF_AREAS)
    return STAFF_CACHE if staff else PAGE_CACHE


def with_vary(headers: list[tuple[bytes, bytes]], name: bytes) -> None:
    """Adds ``name`` to the response's Vary header (in place), once."""
    for i, (key, value) in enumerate(headers):
        if key.lower() == b"vary":
            if name.lower() not in [v.strip().lower() for v in value.split(b",")] and value.strip() != b"*":
                headers[i] = (key, value + b", " + name)
            return
    headers.append((b"vary", name))


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response (a route may set its own first)."""

    def __init__(self, app: ASGIApp, *, form_targets: Iterable[str] = (), hsts: bool = False) -> None:
        self.app = app
        self.page_csp = page_csp(form_targets)
        self.hsts = hsts
        # Encoded once per kind of path: on every response only the names already set are looked at.
        self._encoded = {
            path: [(name.lower().encode(), value.encode("latin-1")) for name, value in self.headers_for(path).items()]
            for path in ("/api/v1/docs", "/api/", "/")
        }

    def headers_for(self, path: str) -> dict[str, str]:
        out = dict(COMMON)
        if path.startswith("/api/v1/docs"):
            out["Content-Security-Policy"] = DOCS_CSP
        elif path.startswith("/api/"):
            out["Content-Security-Policy"] = API_CSP
        else:
            out["Content-Security-Policy"] = self.page_csp
        if self.hsts:  # only when served over https (cookie_secure): browsers then refuse plain http for a year
            out["Strict-Transport-Security"] = "max-age=31536000"
        return out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        api = path.startswith("/api/")
        wanted = self._encoded["/api/v1/docs" if path.startswith("/api/v1/docs") else "/api/" if api else "/"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                found = {name.lower(): value for name, value in headers}
                headers.extend(pair for pair in wanted if pair[0] not in found)
                kind = found.get(b"content-type", b"")
                if kind.startswith(b"text/html"):
                    if not api and b"cache-control" not in found:
                        headers.append((b"cache-control", page_cache_control(path)))
                    with_vary(headers, b"Accept-Language")
                elif api and (b"cache-control" not in found or kind.startswith(b"application/problem+json")):
                    with_vary(headers, b"Accept-Language")
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
