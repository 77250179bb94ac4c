"""What every shop page does: render in the visitor's language and the organizer's (or venue's) time zone, read a
form with its CSRF token, find the organizer by its slug, say a refusal in a sentence, and the order's links."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from piaowu.appscope import runtime_of
from piaowu.core.errors import CsrfFailed, DomainError
from piaowu.core.errors import render as fill
from piaowu.i18n import Translator
from piaowu.organizers import service as organizers
from piaowu.organizers.service import OrganizerInfo
from piaowu.runtime import Runtime
from piaowu.web.shop_support import when
from piaowu.web.templating import check_csrf, page_locale, render


def translator(request: Request) -> Translator:
    return Translator(page_locale(request))


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    org: OrganizerInfo | None = None,
    status_code: int = 200,
    *,
    zone: str = "",
) -> HTMLResponse:
    """``zone``: the venue's time zone when the page is about one venue's session; else the organizer's. ``when``
    also takes a ``zone`` of its own, for lists of events at several venues."""
    locale = page_locale(request)
    tz = zone or (org.timezone if org else runtime_of(request.scope).settings.timezone)
    ctx: dict[str, Any] = {
        "org": org,
        "tz": tz,
        "when": lambda value, with_time=True, zone="": when(value, zone or tz, locale, with_time=with_time),
        "errors": {},
        "values": {},
    }
    ctx.update(context)
    return render(request, template, ctx, status_code=status_code)


async def read_form(request: Request) -> dict[str, str]:
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf") or "")):
        raise CsrfFailed()
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


async def organizer(rt: Runtime, slug: str) -> OrganizerInfo:
    async with rt.uow(readonly=True) as uow:
        return await organizers.get_by_slug(uow, slug)


def error_text(request: Request, exc: DomainError) -> str:
    return fill(exc.localized(translator(request)), exc.data)


def order_url(slug: str, code: str) -> str:
    return f"/s/{slug}/orders/{quote(code)}"


def lookup_url(slug: str, code: str) -> str:
    return f"/s/{slug}/lookup?code={quote(code)}"
