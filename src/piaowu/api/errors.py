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
from piaowu.fields import SHAPE_TAG
from piaowu.i18n import Translator, api_locale, gettext

log = logging.getLogger("piaowu.api")

PROBLEM = "application/problem+json"
TYPE_BASE = "https://piaowu.dev/problems/"


def request_locale(request: Request) -> str:
    """The language of an API answer: ``?lang=``, else Accept-Language — the same choice as the catalog texts
    of the answer (``i18n.api_locale``), on the lean lane and off it. Also the language of a guard's refusal."""
    return api_locale(request.query_params.get("lang"), request.headers.get("accept-language"))


def problem(status: int, code: str, title: str, *, detail: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"type": TYPE_BASE + code, "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM)


def domain_problem(request: Request, exc: errors.DomainError) -> Response:
    locale = request_locale(request)
    # Words put into the sentence ("No {kind} with this id.") are translated too; the body keeps the originals.
    words = {k: gettext(locale, v) if isinstance(v, str) else v for k, v in exc.data.items()}
    title = errors.render(exc.localized(Translator(locale)), words)
    extra = {k: v for k, v in exc.data.items() if k != "errors"}
    if isinstance(exc, errors.ValidationFailed):
        extra["errors"] = [{**e, "message": gettext(locale, e.get("message", ""))} for e in exc.errors]
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    if isinstance(exc.data.get("retry_after"), int):  # seconds, e.g. RateLimited
        headers = {"Retry-After": str(max(1, exc.data["retry_after"]))}
    resp = problem(exc.status, exc.code, title, **extra)
    if headers:
        resp.headers.update(headers)
    return resp


def _field_path(err: dict[str, Any]) -> str:
    if err.get("type") == "json_invalid":  # its loc holds the byte offset of the syntax error, not a field
        return "body"
    parts = [
        str(p)
        for p in err.get("loc", ())
        if p not in ("body", "query", "path", "header") and not str(p).startswith(SHAPE_TAG)
    ]
    return ".".join(parts) or "body"


# Pydantic's own messages, by error type, as sentences a person can act on (and translate). ``{…}`` are
# filled from the error's context. Types not listed keep Pydantic's English message.
PYDANTIC_MESSAGES = {
    "missing": "This field is required.",
    "extra_forbidden": "This field is not allowed.",
    "int_parsing": "Enter a whole number.",
    "int_type": "Enter a whole number.",
    "int_from_float": "Enter a whole number (amounts are in minor units, e.g. fen).",
    "float_parsing": "Enter a number.",
    "float_type": "Enter a number.",
    "bool_parsing": "Enter true or false.",
    "bool_type": "Enter true or false.",
    "string_type": "Enter text.",
    "string_too_long": "Enter at most {max_length} characters.",
    "string_pattern_mismatch": "This value is not in the expected format.",
    "list_type": "Send a list.",
    "too_long": "Send at most {max_length} items.",
    "dict_type": "Send an object.",
    "model_type": "Send an object.",
    "model_attributes_type": "Send an object.",
    "greater_than_equal": "Enter a value of at least {ge}.",
    "greater_than": "Enter a value greater than {gt}.",
    "less_than_equal": "Enter a value of at most {le}.",
    "less_than": "Enter a value less than {lt}.",
    "datetime_parsing": "Enter a date and time like 2026-07-01T19:30:00+08:00.",
    "datetime_from_date_parsing": "Enter a date and time like 2026-07-01T19:30:00+08:00.",
    "datetime_type": "Enter a date and time like 2026-07-01T19:30:00+08:00.",
    "timezone_aware": "Give the time zone, like 2026-07-01T19:30:00+08:00.",
    "enum": "Choose one of: {expected}.",
    "literal_error": "Choose one of: {expected}.",
    "json_invalid": "The request body is not valid JSON.",
    "json_type": "The request body is not valid JSON.",
}
# Counted ones (a minimum of 1 is common): singular, plural and the context field that picks the form.
PYDANTIC_COUNTED = {
    "string_too_short": (
        "Enter at least {min_length} character.",
        "Enter at least {min_length} characters.",
        "min_length",
    ),
    "too_short": ("Send at least {min_length} item.", "Send at least {min_length} items.", "min_length"),
}
INVALID_EMAIL = "Enter a valid e-mail address."


def _message(err: dict[str, Any], locale: str) -> str:
    kind = str(err.get("type", ""))
    msg = str(err.get("msg", ""))
    if kind in PYDANTIC_COUNTED:
        one, other, by = PYDANTIC_COUNTED[kind]
        ctx = dict(err.get("ctx") or {})
        n = ctx.get(by)
        return errors.render(Translator(locale).ngettext(one, other, n if isinstance(n, int) else 0), ctx)
    if kind in PYDANTIC_MESSAGES:
        return errors.render(gettext(locale, PYDANTIC_MESSAGES[kind]), dict(err.get("ctx") or {}))
    if msg.startswith("value is not a valid email address"):
        return gettext(locale, INVALID_EMAIL)
    # Pydantic prefixes our own ValueErrors; the clean sentence is what a client shows.
    return gettext(locale, msg.removeprefix("Value error, "))


def validation_problem(request: Request, exc: RequestValidationError) -> Response:
    locale = request_locale(request)
    details = [
        {"field": _field_path(err), "code": err.get("type", "invalid"), "message": _message(err, locale)}
        for err in exc.errors()
    ]
    title = gettext(locale, errors.ValidationFailed.message)
    return problem(422, errors.ValidationFailed.code, title, errors=details)


def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    locale = request_locale(request)
    if exc.status_code == 400:  # FastAPI could not decode the body (e.g. not UTF-8): the same as malformed JSON
        message = gettext(locale, PYDANTIC_MESSAGES["json_invalid"])
        return problem(
            422,
            errors.ValidationFailed.code,
            gettext(locale, errors.ValidationFailed.message),
            errors=[{"field": "body", "code": "json_invalid", "message": message}],
        )
    codes = {
        404: ("not_found", "Not found."),
        405: ("method_not_allowed", "Method not allowed."),
        401: ("not_authenticated", errors.NotAuthenticated.message),
    }
    code, title = codes.get(exc.status_code, ("http_error", str(exc.detail)))
    return problem(exc.status_code, code, gettext(locale, title))


def database_problem(request: Request, exc: Exception) -> Response:
    """Database errors that are not our failure: a lock not granted in time or a database at capacity (503,
    retry) or a value the database cannot store (422). Anything else goes on to ``unexpected_problem``."""
    from piaowu.db.engine import is_busy, is_invalid_value

    if is_busy(exc) or is_invalid_value(exc):
        return unexpected_problem(request, exc)
    raise exc


def unexpected_problem(request: Request, exc: Exception) -> Response:
    from piaowu.db.engine import is_busy, is_invalid_value

    locale = request_locale(request)
    if is_busy(exc):
        resp = problem(503, errors.LockTimeout.code, gettext(locale, errors.LockTimeout.message))
        resp.headers["Retry-After"] = "1"
        return resp
    if is_invalid_value(exc):
        # A value the schema let through but the database cannot store (the transaction was rolled back, so
        # nothing was written). Still the client's input, not our failure; logged so the schema gets a bound.
        log.warning("value refused by the database on %s %s: %s", request.method, request.url.path, exc)
        return problem(422, errors.InvalidValue.code, gettext(locale, errors.InvalidValue.message))
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "internal_error", gettext(locale, "Something went wrong on our side; nothing was charged."))
