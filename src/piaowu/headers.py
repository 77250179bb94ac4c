"""Security headers on every response: pages, the API, static files, errors and redirects alike.

Pages get a Content-Security-Policy that allows only this site's own scripts and styles (no inline script,
no ``style=`` attributes: the templates use classes and /static files), no framing, no plug-ins. The gate
scanner reads the camera, so the Permissions-Policy keeps ``camera`` for this site and refuses it to others.
The JSON API gets ``default-src 'none'``: nothing it answers is meant to run or render in a browser.
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
        wanted = self._encoded[
            "/api/v1/docs" if path.startswith("/api/v1/docs") else "/api/" if path.startswith("/api/") else "/"
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(pair for pair in wanted if pair[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
