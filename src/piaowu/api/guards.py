"""What every API request must satisfy before a route sees it: a bounded body and no NUL characters.

A body larger than ``MAX_BODY_BYTES`` is refused with 413 while it is read (a client that lies in
``Content-Length`` or streams without one is cut off at the limit), so a huge upload cannot exhaust memory.
NUL characters (``\\u0000`` in JSON, ``%00`` in the URL) are refused with 422: PostgreSQL cannot store them in
text and SQLite would store them silently, so the same request would succeed on one database and fail on the
other. No database is touched when a guard refuses.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from piaowu.api.errors import domain_problem
from piaowu.core.errors import DomainError, PayloadTooLarge, ValidationFailed

MAX_BODY_BYTES = 1024 * 1024
# A seat map is a file of its own: an 80,000-seat stadium is about 2.5 MB of CSV, 7 MB of JSON. Only the routes
# that take a whole map may send that much.
MAX_MAP_BYTES = 16 * 1024 * 1024
MAP_PATHS = re.compile(
    r"^/api/v1/(seat-layouts/[^/]+(/import)?|venues/[^/]+/seat-layouts)$"
    r"|^/manage/venues/[^/]+/layouts(/[^/]+/import)?$"  # the back office's new layout from a file, and import
)

_NUL_MESSAGE = "Text must not contain NUL characters."


def _nul_error(where: str) -> ValidationFailed:
    return ValidationFailed([{"field": where, "code": "nul_character", "message": _NUL_MESSAGE}])


def _has_nul(raw: bytes) -> bool:
    return b"\x00" in raw or b"\\u0000" in raw or b"%00" in raw


class RequestGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope.get("path", "").encode()
        if _has_nul(raw_path) or "\x00" in scope.get("path", ""):
            await self._refuse(scope, send, _nul_error("path"))
            return
        if _has_nul(scope.get("query_string", b"")):
            await self._refuse(scope, send, _nul_error("query"))
            return
        limit = MAX_MAP_BYTES if MAP_PATHS.match(scope.get("path", "")) else self.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, send, PayloadTooLarge(limit=limit))
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        # Read the (bounded) body once, check it, then hand it to the route unchanged.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, send, PayloadTooLarge(limit=limit))
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"\x00" in body or b"\\u0000" in body or (b"%00" in body and _is_form(scope)):
            await self._refuse(scope, send, _nul_error("body"))
            return
        await self.app(scope, replay_body(body, receive), send)

    async def _refuse(self, scope: Scope, send: Send, exc: DomainError) -> None:
        response = domain_problem(Request(scope), exc)
        await response(scope, _no_receive, send)


def _is_form(scope: Scope) -> bool:
    # Looked at only for a body with "%00" in it: most bodies are not, and the headers' dict is not built for them.
    return b"application/x-www-form-urlencoded" in dict(scope.get("headers", [])).get(b"content-type", b"")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands ``body`` (already read) to the app once, then passes on what follows."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would tell it

    return replay


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
