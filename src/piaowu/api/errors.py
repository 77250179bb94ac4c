"""DomainError → application/problem+json (RFC 9457). One table, one place."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from piaowu.core import errors
from piaowu.i18n import gettext, negotiate

log = logging.getLogger("piaowu.api")

PROBLEM = "application/problem+json"
TYPE_BASE = "https://piaowu.dev/problems/"


def request_locale(request: Request) -> str:
    return getattr(request.state, "locale", None) or negotiate(request.headers.get("accept-language"))


def problem(status: int, code: str, title: str, *, detail: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM)


def domain_problem(request: Request, exc: errors.DomainError) -> Response:
    locale = request_locale(request)
    title = errors.render(gettext(locale, exc.template()), exc.data)
    extra = {k: v for k, v in exc.data.items() if k != "errors"}
    if isinstance(exc, errors.ValidationFailed):
        extra["errors"] = [{**e, "message": gettext(locale, e.get("message", ""))} for e in exc.errors]
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    resp = problem(exc.status, exc.code, title, **extra)
    if headers:
        resp.headers.update(headers)
    return resp


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_problem(request: Request, exc: RequestValidationError) -> Response:
    locale = request_locale(request)
    details = []
    for err in exc.errors():
        msg = str(err.get("msg", ""))
        # Pydantic prefixes custom ValueErrors; the clean sentence is what a client shows.
        msg = msg.removeprefix("Value error, ")
        details.append(
            {
                "field": _field_path(err.get("loc", ())),
                "code": err.get("type", "invalid"),
                "message": gettext(locale, msg),
            }
        )
    title = gettext(locale, errors.ValidationFailed.message)
    return problem(422, errors.ValidationFailed.code, title, errors=details)


def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    locale = request_locale(request)
    codes = {
        404: ("not_found", "Not found."),
        405: ("method_not_allowed", "Method not allowed."),
        401: ("not_authenticated", errors.NotAuthenticated.message),
    }
    code, title = codes.get(exc.status_code, ("http_error", str(exc.detail)))
    return problem(exc.status_code, code, gettext(locale, title))


def unexpected_problem(request: Request, exc: Exception) -> Response:
    from piaowu.db.engine import is_lock_timeout

    locale = request_locale(request)
    if is_lock_timeout(exc):
        resp = problem(503, errors.LockTimeout.code, gettext(locale, errors.LockTimeout.message))
        resp.headers["Retry-After"] = "1"
        return resp
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "internal_error", gettext(locale, "Something went wrong on our side; nothing was charged."))
