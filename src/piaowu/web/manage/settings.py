"""The organizer's own settings (owner / admin): its name, time zone and catalog language; the sites a payment may
send the buyer back to."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from piaowu.catalog.text_edits import update_organizer_settings
from piaowu.core.inputs import MAX_ORIGINS, ORIGIN_COUNT_MESSAGE, clean_origin, origin_of
from piaowu.core.languages import CONTENT_LOCALES
from piaowu.organizers import service as organizers
from piaowu.organizers.schemas import OrganizerSettingsPatch
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import FormErrors, page, read_form, redirect, submit, translator
from piaowu.web.templating import flash

router = APIRouter()
LOCALE_NAMES = {"zh-CN": "中文（简体）", "en": "English"}


def origin_lines(text: str) -> list[str]:
    """The origins typed into the box, one per line; blank lines do not count."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _line_errors(request: Request, lines: list[str]) -> FormErrors:
    """Each bad line named by its number, so a long list says where to look (the API names indexes instead)."""
    _ = translator(request)
    if len(lines) > MAX_ORIGINS:
        return {"return_origins": _(ORIGIN_COUNT_MESSAGE)}
    problems = []
    for number, line in enumerate(lines, start=1):
        try:
            clean_origin(line)
        except ValueError as exc:
            problems.append(_("Line {line}: {problem}", line=number, problem=_(str(exc))))
    return {"return_origins": " ".join(problems)} if problems else {}


async def _settings_page(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    *,
    text: str | None = None,
    errors: FormErrors | None = None,
    org_values: dict[str, str] | None = None,
    org_errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        current = await organizers.get_settings(uow, actor)
    ctx = {
        "values": {"return_origins": "\n".join(current.return_origins) if text is None else text},
        "errors": errors or {},
        "org_values": org_values
        or {"name": current.name, "timezone": current.timezone, "default_locale": current.default_locale},
        "org_errors": org_errors or {},
        # Each language named in itself, as a language switcher names them.
        "locale_options": [(loc, LOCALE_NAMES.get(loc, loc)) for loc in CONTENT_LOCALES],
        "currency": current.currency,
        # Always allowed, whatever the list says: shown so that nobody lists them again.
        "server_origin": origin_of(rt.settings.public_url) or rt.settings.public_url,
        "installation_origins": [o for o in (origin_of(x) for x in rt.settings.allowed_return_origins) if o],
        "max_origins": MAX_ORIGINS,
    }
    return await page(request, rt, actor, "manage/settings.html", ctx, active="settings", status_code=status_code)


@router.get("/settings")
async def settings(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    return await _settings_page(request, rt, actor)


@router.post("/settings")
async def settings_save(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    form = await read_form(request)
    text = form.get("return_origins", "")
    lines = origin_lines(text)
    # The schema's and the service's errors name an index (return_origins.2): here they belong to the box.
    rename = {key: "return_origins" for i in range(len(lines)) for key in (str(i), f"return_origins.{i}")}
    saved, errors = await submit(
        request,
        rt,
        OrganizerSettingsPatch,
        {"return_origins": lines},
        lambda uow, data: organizers.update_settings(uow, actor, data),
        errors=_line_errors(request, lines),
        rename=rename,
    )
    if saved is None:
        return await _settings_page(request, rt, actor, text=text, errors=errors, status_code=422)
    flash(request, translator(request)("Changes saved."), "success")
    return redirect("/manage/settings")


@router.post("/settings/organization")
async def organization_save(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    form = await read_form(request)
    values = {k: form.get(k, "") for k in ("name", "timezone", "default_locale")}
    saved, errors = await submit(
        request,
        rt,
        OrganizerSettingsPatch,
        dict(values),
        lambda uow, data: update_organizer_settings(uow, actor, data),
    )
    if saved is None:
        return await _settings_page(request, rt, actor, org_values=values, org_errors=errors, status_code=422)
    rt.shop_cache.invalidate()  # this process shows the change at once (the others within the cache's time)
    flash(request, translator(request)("Changes saved."), "success")
    return redirect("/manage/settings")
