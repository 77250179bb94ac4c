"""Helpers shared by the back-office pages: form reading with CSRF, field errors, local time, rendering."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError

from piaowu.accounts import access
from piaowu.accounts.permissions import Permission
from piaowu.core.actor import Actor
from piaowu.core.errors import (
    CsrfFailed,
    DomainError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from piaowu.core.errors import render as fill
from piaowu.core.inputs import TIME_RANGE_MESSAGE, in_time_range, is_local_path
from piaowu.db.uow import UnitOfWork
from piaowu.fields import NULL_MESSAGE, lenient
from piaowu.i18n import Translator
from piaowu.organizers import service as organizers
from piaowu.runtime import Runtime
from piaowu.web.templating import check_csrf, error_message, page_locale, render

FormErrors = dict[str, str]
T = TypeVar("T")
C = TypeVar("C")
NOT_THE_FORMS_BUSINESS = (NotFound, PermissionDenied, NotAuthenticated, CsrfFailed)


async def read_form(request: Request) -> dict[str, str]:
    """The submitted fields as plain strings; a missing or wrong CSRF token stops the request here."""
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf") or "")):
        raise CsrfFailed()
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def translator(request: Request) -> Translator:
    return Translator(page_locale(request))


# Pydantic's own wording is English-only; these are the cases our forms can hit, as translatable msgids.
_PYDANTIC = {
    "missing": "This field is required.",
    "string_too_long": "Use at most {max_length} characters.",
    "greater_than_equal": "Enter a number of at least {ge}.",
    "less_than_equal": "Enter a number of at most {le}.",
    "int_parsing": "Enter a whole number.",
    "int_type": "Enter a whole number.",
    "datetime_parsing": "Enter a date and time.",
    "datetime_type": "Enter a date and time.",
    "datetime_from_date_parsing": "Enter a date and time.",
    "enum": "Choose one of the options.",
    "literal_error": "Choose one of the options.",
    "string_pattern_mismatch": "Choose one of the options.",
    "value_error": "{msg}",
}
# Counted ones (a minimum of 1 is common): singular, plural and the context field that picks the form.
_PYDANTIC_COUNTED = {
    "string_too_short": (
        "Enter at least {min_length} character.",
        "Enter at least {min_length} characters.",
        "min_length",
    ),
}


def pydantic_errors(request: Request, exc: ValidationError, rename: dict[str, str] | None = None) -> FormErrors:
    _ = translator(request)
    out: FormErrors = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        field = loc[-1] if loc else "form"
        if len(loc) > 1 and loc[0] == "buyer":
            field = f"buyer_{loc[-1]}"
        if len(loc) > 1 and loc[0].endswith("_i18n"):  # a catalog text in one language: name_i18n.en → name_en
            field = f"{loc[0].removesuffix('_i18n')}_{loc[1].split('-')[0].lower()}"
        field = (rename or {}).get(field, field)
        template = _PYDANTIC.get(err.get("type", ""))
        if NULL_MESSAGE in str(err.get("msg", "")):  # an emptied field of an edit form: the API's words don't fit
            template = _PYDANTIC["missing"]
        ctx = {k: v for k, v in (err.get("ctx") or {}).items() if not isinstance(v, Exception)}
        counted = _PYDANTIC_COUNTED.get(err.get("type", ""))
        if counted and template is None:
            n = ctx.get(counted[2])
            message = fill(_.ngettext(counted[0], counted[1], n if isinstance(n, int) else 0), ctx)
        elif template == "{msg}":
            message = _(str(err.get("msg", "")).removeprefix("Value error, "))
        elif template:
            message = fill(_(template), ctx)
        else:
            message = _("This value is not valid.")
        out.setdefault(field, message)
    return out


def domain_errors(request: Request, exc: ValidationFailed, rename: dict[str, str] | None = None) -> FormErrors:
    _ = translator(request)
    out: FormErrors = {}
    for err in exc.errors:
        field = (rename or {}).get(str(err.get("field", "form")), str(err.get("field", "form")))
        out.setdefault(field, _(str(err.get("message", ""))))
    return out


def error_text(request: Request, exc: DomainError) -> str:
    return error_message(translator(request), exc)


# ---- local time: forms speak the organizer's wall clock, the database speaks UTC ------------------------


def parse_local(value: str, tz: str) -> datetime | None:
    """'2026-06-10T19:30' in the organizer's zone → an aware UTC datetime. Empty → None; bad → ValueError."""
    value = value.strip()
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
        local = naive if naive.tzinfo is not None else naive.replace(tzinfo=ZoneInfo(tz))
        return in_time_range(local.astimezone(UTC))
    except OverflowError:  # year 1 or 9999 moved across the date line
        raise ValueError(TIME_RANGE_MESSAGE) from None


def to_local_input(value: datetime | None, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M") if value else ""


async def organizer(rt: Runtime, actor: Actor) -> organizers.OrganizerInfo:
    """The signed-in staff member's organizer (name, time zone, default language, currency), shared per process
    for ``shop_cache_seconds`` as the shop shares it: the settings page can change it, in any process."""

    async def read() -> organizers.OrganizerInfo:
        async with rt.uow(readonly=True, autocommit=True) as uow:
            return await organizers.get_organizer(uow, actor.organizer_id)

    return await rt.shop_cache.get(("organizer-id", actor.organizer_id), read)


async def organizer_tz(rt: Runtime, actor: Actor) -> str:
    return (await organizer(rt, actor)).timezone


async def attempt(
    request: Request, rt: Runtime, use_case: Callable[[UnitOfWork], Awaitable[T]], rename: dict[str, str] | None = None
) -> tuple[T | None, FormErrors]:
    """Runs a use case in one committed transaction; every error a form can show comes back as field errors (or
    ``form`` for the whole form), so the page re-renders with what was typed. Not-found, permission and CSRF
    errors are not the form's business: they reach the app's error page."""
    try:
        async with rt.uow() as uow:
            result = await use_case(uow)
            await uow.commit()
        return result, {}
    except ValidationError as exc:
        return None, pydantic_errors(request, exc, rename)
    except ValidationFailed as exc:
        return None, domain_errors(request, exc, rename)
    except NOT_THE_FORMS_BUSINESS:
        raise
    except DomainError as exc:
        return None, {"form": error_text(request, exc)}


async def submit(
    request: Request,
    rt: Runtime,
    schema: Callable[..., C],
    data: dict[str, Any],
    use_case: Callable[[UnitOfWork, C], Awaitable[T]],
    *,
    errors: FormErrors | None = None,
    rename: dict[str, str] | None = None,
) -> tuple[T | None, FormErrors]:
    """A form's command: ``schema(**data)`` is checked first and its errors joined to the ones the page found
    while reading the form (``errors``, which win for their field); only a wholly valid form runs the use case,
    through ``attempt``."""
    try:
        # Form values are strings ("120", "on"): read them leniently, unlike JSON bodies (``piaowu.fields``).
        command = (
            lenient(schema, data) if isinstance(schema, type) and issubclass(schema, BaseModel) else schema(**data)
        )
    except ValidationError as exc:
        return None, {**pydantic_errors(request, exc, rename), **(errors or {})}
    if errors:
        return None, errors
    return await attempt(request, rt, lambda uow: use_case(uow, command), rename)


# ---- rendering ------------------------------------------------------------------------------------------

NAV = (
    # (key, path, English label): a link is shown only to those the page's access rule admits (accounts/access.py)
    ("dashboard", "/manage", "Dashboard"),
    ("sell", "/manage/sell", "Sell"),
    ("orders", "/manage/orders", "Orders"),
    ("reconciliation", "/manage/payments/reconciliation", "Reconciliation"),
    ("events", "/manage/events", "Events"),
    ("venues", "/manage/venues", "Venues"),
    ("staff", "/manage/staff", "Staff"),
    ("tokens", "/manage/tokens", "API tokens"),
    ("settings", "/manage/settings", "Settings"),
    ("gate", "/gate", "Gate"),
)


def may_open(actor: Actor, path: str, method: str = "GET") -> bool:
    """Whether the route's access rule lets this actor in (unknown routes: no)."""
    rule = access.rule_for(method, path)
    return rule is not None and rule.admits(staff_permissions=actor.permissions)


def nav_for(actor: Actor) -> list[tuple[str, str, str]]:
    return [(key, path, label) for key, path, label in NAV if may_open(actor, path)]


async def page(
    request: Request,
    rt: Runtime,
    actor: Actor,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    active: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "actor": actor,
        "nav_items": nav_for(actor),
        "active": active,
        "tz": await organizer_tz(rt, actor),
        "P": Permission,
        "errors": {},
        "values": {},
    }
    ctx.update(context or {})
    return render(request, template, ctx, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None, default: str = "/manage") -> str:
    """Only local paths: never an open redirect to another site (``//evil``, ``/\\evil``, ``https://``, or a
    path with tabs or line breaks that browsers drop, turning ``/<tab>/evil`` into ``//evil``)."""
    return target if target and is_local_path(target) else default


async def forbidden_page(request: Request, rt: Runtime, actor: Actor, exc: DomainError) -> HTMLResponse:
    """A page this role may not use: said plainly, inside the back office with the links the role does have."""
    ctx = {"error": exc, "home": next((path for _, path, _ in nav_for(actor)), "/manage")}
    return await page(request, rt, actor, "manage/forbidden.html", ctx, status_code=exc.status)
