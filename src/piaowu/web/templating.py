"""Jinja2 environment for the pages: translation, money and local-time filters, CSRF and flash helpers."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from piaowu.core.errors import DomainError
from piaowu.core.errors import render as render_message
from piaowu.core.money import format_money
from piaowu.i18n import SUPPORTED, Translator, html_lang, negotiate, normalize_locale
from piaowu.orders import refund_reasons
from piaowu.orders.refund_reasons import Kind

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["money"] = lambda minor, currency="CNY": format_money(int(minor or 0), currency)


def page_locale(request: Request) -> str:
    """?lang= beats the ``lang`` cookie, which beats Accept-Language."""
    q = request.query_params.get("lang")
    if q:
        return normalize_locale(q)
    c = request.cookies.get("lang")
    if c:
        return normalize_locale(c)
    return negotiate(request.headers.get("accept-language"))


def local_time(value: datetime | None, tz: str = "Asia/Shanghai", fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


templates.env.filters["localtime"] = local_time


def group_code(code: str) -> str:
    """``ABCD EFGH JKLM`` — easier to read aloud and to type at a gate (which ignores the spaces)."""
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


templates.env.filters["group_code"] = group_code


def phone(value: str, region: str = "CN") -> str:
    """A stored E.164 number as people write it: ``+8613812345678`` → ``138 1234 5678`` (home region),
    ``+44 7700 900123`` (elsewhere). Anything unparseable is shown as stored."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return value
    home = phonenumbers.region_code_for_number(number) == region
    fmt = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, fmt)


templates.env.filters["phone"] = phone


def error_message(translate: Translator, error: DomainError) -> str:
    """A DomainError's message in the page's language, its data filled in (unknown placeholders stay as-is).
    Word-like values (``kind="event"``, ``state="paid"``) are translated too when the catalogs know them."""
    data = {k: translate(v) if isinstance(v, str) else v for k, v in error.data.items()}
    return render_message(error.localized(translate), data)


templates.env.globals["error_message"] = error_message


def refund_reason(_: Translator, reason: str) -> str:
    """A refund's reason as the reader sees it: the reasons the system writes (``orders.refund_reasons``) in
    the page's language, with the staff words inside a cancellation's as typed; ``""`` when none was given; any
    other text as staff typed it. The stored reason (and the API's) stays as written."""
    found = refund_reasons.parse(reason)
    if found is None:
        return reason
    if found.kind is Kind.NONE_GIVEN:
        return ""
    if found.kind is Kind.SESSION_CANCELLED:
        if found.staff_text:
            return _("The session was cancelled: {reason}", reason=found.staff_text)
        return _("The session was cancelled.")
    if found.kind is Kind.DUPLICATE_PAYMENT:
        return _("A second payment for an order already paid.")
    if found.kind is Kind.PAID_AFTER_EXPIRY:
        return _("Paid after the order had expired, when its tickets were sold out.")
    return _("Seat exchange {old} → {new}", old=found.old_seat, new=found.new_seat)


templates.env.globals["refund_reason"] = refund_reason


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> bool:
    expected = request.session.get("csrf")
    return bool(expected) and bool(submitted) and secrets.compare_digest(str(expected), str(submitted))


def flash(request: Request, message: str, kind: str = "info") -> None:
    request.session.setdefault("flash", []).append({"message": message, "kind": kind})


def _pop_flash(request: Request) -> list[dict[str, str]]:
    return request.session.pop("flash", []) if "session" in request.scope else []


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    locale = page_locale(request)
    translate = Translator(locale)
    ctx: dict[str, Any] = {
        "request": request,
        "_": translate,
        # Counted messages, named as gettext's so Jinja's and Babel's extractors know them: see Translator.ngettext.
        "ngettext": translate.ngettext,
        "locale": locale,
        "html_lang": html_lang(locale),
        "locales": SUPPORTED,
        "csrf": csrf_token(request) if "session" in request.scope else "",
        "flashes": _pop_flash(request),
        "tz": "Asia/Shanghai",
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    if request.query_params.get("lang"):
        response.set_cookie("lang", locale, max_age=365 * 86400, samesite="lax")
    return response
