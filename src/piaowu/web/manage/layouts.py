"""Back-office seat map pages: a venue's layouts (list, create, delete an unused one) and the map editor —
generate a rectangular or arc section from parameters (previewed before it is added), edit seats on the map
(``static/seatstaff.js``: select, move, relabel, zone, attributes, block reason, delete), import a JSON or CSV
file and export both. Every save goes through ``layout_service.save_layout``, which checks the whole map by the
import rules: an edited map, a generated section and an imported file pass the same checks, and a refused
save writes nothing."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from piaowu.catalog import venue_service
from piaowu.core.errors import CsrfFailed, DomainError, NotFound, ValidationFailed
from piaowu.core.errors import render as fill
from piaowu.seating import interchange, layout_service, office
from piaowu.seating.layout import ATTRIBUTES, SeatMap
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import attempt, error_text, page, read_form, redirect, translator
from piaowu.web.templating import check_csrf, flash

router = APIRouter()

# Generator parameters as the form names them (``origin.x`` is the generator's field for ``origin_x``).
RECT_FIELDS = ("rows", "seats_per_row", "seat_spacing", "row_spacing", "origin_x", "origin_y", "aisle_width")
ARC_FIELDS = ("rows", "radius", "angle_span", "direction", "seat_spacing", "row_spacing", "centre_x", "centre_y")
INTEGERS = frozenset({"rows", "seats_per_row", "first_row"})
MAX_IMPORT_BYTES = 16 * 1024 * 1024  # api.guards.MAX_MAP_BYTES, the request guard's limit for these routes


def _seat_name(key: object) -> str:
    if isinstance(key, list | tuple) and len(key) == 3:
        return f"{key[0]} {key[1]}-{key[2]}"
    return ""


def _problem_rows(request: Request, exc: ValidationFailed) -> list[dict[str, str]]:
    """A refused map's problems as table rows: where (CSV line, or the seat's printed label), what, why."""
    _ = translator(request)
    rows = []
    for err in exc.errors:
        field = str(err.get("field", ""))
        where = _("Line {n}", n=err["line"]) if err.get("line") else _seat_name(err.get("seat"))
        if not where and (m := re.match(r"(?:.*\.)?seats\[(\d+)\]", field)):
            where = _("Seat {n}", n=int(m.group(1)) + 1)
        other = err.get("other")
        if isinstance(other, dict) and _seat_name(other.get("seat")):
            where = f"{where} ↔ {_seat_name(other['seat'])}" if where else _seat_name(other["seat"])
        data = {k: (", ".join(map(str, v)) if isinstance(v, list) else v) for k, v in err.items()}
        rows.append(
            {
                "where": where or "—",
                "field": field.split(".")[-1] or "—",
                "message": fill(_(str(err.get("message", ""))), data),
            }
        )
    return rows


def _generator_defaults(seat_map: SeatMap) -> dict[str, str]:
    """A new section's parameters: a free section id and a place below the seats already there."""
    used = {s.id for s in seat_map.sections}
    section_id = next(c for c in (*"ABCDEFGHJKLMNPQRSTUVWXYZ", *map(str, range(1, 1000))) if c not in used)
    bottom = max((s.y for s in seat_map.seats), default=-300.0) + 300
    left = min((s.x for s in seat_map.seats), default=0.0)
    return {
        "kind": "rect",
        "section_id": section_id,
        "label": "",
        "zone": section_id,
        "rows": "10",
        "seats_per_row": "20",
        "seat_spacing": "50",
        "row_spacing": "90",
        "origin_x": f"{left:g}",
        "origin_y": f"{bottom:g}",
        "aisles_after": "",
        "aisle_width": "100",
        "radius": "800",
        "angle_span": "90",
        "direction": "0",
        "centre_x": "0",
        "centre_y": f"{bottom - 800:g}",
        "numbering": "left_to_right",
        "row_labels": "numbers",
        "first_row": "1",
    }


def _doc(seat_map: SeatMap) -> str:
    return interchange.export_json(seat_map)


async def _editor(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    venue_id: str,
    layout_id: str,
    *,
    gen: dict[str, str] | None = None,
    gen_errors: dict[str, str] | None = None,
    preview: SeatMap | None = None,
    problems: list[dict[str, str]] | None = None,
    problems_title: str = "",
    status_code: int = 200,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        venue = await venue_service.get_venue(uow, actor, venue_id)
        layout = await layout_service.get_layout(uow, actor, layout_id)
        seat_map = await layout_service.load_map(uow, actor.organizer_id, layout_id)
        used_by = await office.layout_users(uow, actor, layout_id)
    if layout.venue_id != venue.id:
        raise NotFound(kind="seat layout")
    zones = list(dict.fromkeys([*(layout.zones or []), *(preview.zones() if preview else [])]))
    ctx = {
        "venue": venue,
        "layout": layout,
        "doc": _doc(seat_map),
        "zones": zones,
        "preview": [{"x": s.x, "y": s.y} for s in preview.seats] if preview else [],
        "preview_count": len(preview.seats) if preview else 0,
        "gen": gen or _generator_defaults(seat_map),
        "gen_errors": gen_errors or {},
        "problems": problems or [],
        "problems_title": problems_title,
        "attributes": ATTRIBUTES,
        "used_by": used_by,
        "sections": seat_map.sections,
    }
    return await page(request, rt, actor, "manage/layout.html", ctx, active="venues", status_code=status_code)


@router.get("/venues/{venue_id}/layouts")
async def layouts(request: Request, rt: RuntimeDep, actor: StaffDep, venue_id: str) -> Response:
    return await _layouts_page(request, rt, actor, venue_id)


async def _layouts_page(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    venue_id: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problems: list[dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        venue = await venue_service.get_venue(uow, actor, venue_id)
        items = await layout_service.list_layouts(uow, actor, venue_id)
        used = {item.id: await office.layout_users(uow, actor, item.id) for item in items}
    ctx = {
        "venue": venue,
        "layouts": items,
        "used": used,
        "values": values or {},
        "errors": errors or {},
        "problems": problems or [],
    }
    return await page(request, rt, actor, "manage/layouts.html", ctx, active="venues", status_code=status_code)


async def _form_with_file(request: Request) -> tuple[dict[str, str], UploadFile | None]:
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf") or "")):
        raise CsrfFailed()
    upload = form.get("file")
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    return fields, upload if isinstance(upload, UploadFile) and upload.filename else None


async def _read_upload(upload: UploadFile) -> tuple[bytes, str]:
    """The uploaded file and its format: JSON by its name or its first character, else CSV."""
    data = await upload.read(MAX_IMPORT_BYTES + 1)
    name = (upload.filename or "").lower()
    is_json = name.endswith(".json") or (not name.endswith(".csv") and data.lstrip()[:1] in (b"{", b"["))
    return data, "json" if is_json else "csv"


async def _run(request: Request, rt: RuntimeDep, use_case: Any) -> tuple[Any, list[dict[str, str]], str]:
    """A map change in one committed transaction (``layout_service``: checked whole, all or nothing) → (the
    layout, [], "") or (None, the problems as table rows, a heading). Not-found and permission errors are not
    the page's business: they reach the app's error page."""
    _ = translator(request)
    try:
        async with rt.uow() as uow:
            saved = await use_case(uow)
            await uow.commit()
        return saved, [], ""
    except ValidationFailed as exc:
        return None, _problem_rows(request, exc), _("Not saved: nothing was changed.")
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        return None, [{"where": "—", "field": "—", "message": error_text(request, exc)}], _("Not saved.")


def _version(form: dict[str, str]) -> int | None:
    raw = form.get("version", "")
    return int(raw) if raw.isdigit() else None


@router.post("/venues/{venue_id}/layouts")
async def layout_create(request: Request, rt: RuntimeDep, actor: StaffDep, venue_id: str) -> Response:
    """A new layout: empty (its sections generated on the editor) or from an uploaded JSON/CSV file."""
    form, upload = await _form_with_file(request)
    _ = translator(request)
    data, fmt = await _read_upload(upload) if upload is not None else (None, "json")
    name = form.get("name", "")
    created, problems, _title = await _run(
        request, rt, lambda uow: layout_service.create_layout(uow, actor, venue_id, name, data, fmt)
    )
    if created is None:
        errors: dict[str, str] = {}
        named = [p for p in problems if p["field"] == "name"]
        if named:
            errors["name"] = named[0]["message"]
        problems = [p for p in problems if p["field"] != "name"]
        if problems:
            errors["file"] = _("The file was not imported: nothing was saved. Correct these lines and try again.")
        return await _layouts_page(
            request, rt, actor, venue_id, values=form, errors=errors, problems=problems, status_code=422
        )
    flash(request, _("Layout “{name}” created.", name=created.name), "success")
    return redirect(f"/manage/venues/{venue_id}/layouts/{created.id}")


@router.post("/venues/{venue_id}/layouts/{layout_id}/delete")
async def layout_delete(request: Request, rt: RuntimeDep, actor: StaffDep, venue_id: str, layout_id: str) -> Response:
    await read_form(request)
    _ = translator(request)
    done, errors = await attempt(request, rt, lambda uow: layout_service.delete_layout(uow, actor, layout_id))
    if errors:
        return await _layouts_page(request, rt, actor, venue_id, errors=errors, status_code=409)
    flash(request, _("Layout deleted."), "success")
    return redirect(f"/manage/venues/{venue_id}/layouts")


@router.get("/venues/{venue_id}/layouts/{layout_id}")
async def layout_editor(request: Request, rt: RuntimeDep, actor: StaffDep, venue_id: str, layout_id: str) -> Response:
    return await _editor(request, rt, actor, venue_id, layout_id)


@router.post("/venues/{venue_id}/layouts/{layout_id}/save")
async def layout_save(request: Request, rt: RuntimeDep, actor: StaffDep, venue_id: str, layout_id: str) -> Response:
    """The editor's operations (``seating.edits``: moved, relabelled, re-zoned, flagged, blocked or deleted
    seats), applied in order and saved all or none."""
    form = await read_form(request)
    _ = translator(request)
    try:
        ops = json.loads(form.get("ops", ""))
    except ValueError:
        ops = None
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        problems = [{"where": "—", "field": "ops", "message": _("The changes could not be read: reload the page.")}]
        return await _editor(
            request, rt, actor, venue_id, layout_id, problems=problems, problems_title=_("Not saved."), status_code=422
        )
    await _same_venue(rt, actor, venue_id, layout_id)
    saved, problems, title = await _run(
        request,
        rt,
        lambda uow: layout_service.edit_seats(uow, actor, layout_id, ops, expected_version=_version(form)),
    )
    if saved is None:
        return await _editor(
            request, rt, actor, venue_id, layout_id, problems=problems, problems_title=title, status_code=422
        )
    flash(
        request,
        _.ngettext("Layout saved: {n} seat.", "Layout saved: {n} seats.", saved.seat_count, n=saved.seat_count),
        "success",
    )
    return redirect(f"/manage/venues/{venue_id}/layouts/{layout_id}")


def _generator_params(request: Request, form: dict[str, str]) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The generator's kind and parameters as the form gives them, and the fields that are not numbers."""
    _ = translator(request)
    kind = form.get("kind", "rect")
    errors: dict[str, str] = {}
    numbers: dict[str, float] = {}
    for name in (RECT_FIELDS if kind == "rect" else ARC_FIELDS) + ("first_row",):
        raw = form.get(name, "").strip()
        try:
            numbers[name] = int(raw) if name in INTEGERS else float(raw)
        except ValueError:
            errors[name] = _("Enter a whole number.") if name in INTEGERS else _("Enter a number.")
            numbers[name] = 1  # a stand-in, so the generator still reports the other fields' problems
    aisles: list[int] = []
    for part in form.get("aisles_after", "").replace("，", ",").split(","):
        if part.strip():
            try:
                aisles.append(int(part))
            except ValueError:
                errors["aisles_after"] = _("Enter seat positions separated by commas, such as 10, 20.")
    params: dict[str, Any] = {
        "section_id": form.get("section_id", "").strip(),
        "label": form.get("label", "").strip(),
        "zone": form.get("zone", "").strip(),
        "numbering": form.get("numbering", ""),
        "row_labels": form.get("row_labels", ""),
        "first_row": int(numbers["first_row"]),
        "seat_spacing": numbers["seat_spacing"],
        "row_spacing": numbers["row_spacing"],
        "rows": int(numbers["rows"]),
    }
    if kind == "rect":
        params.update(
            seats_per_row=int(numbers["seats_per_row"]),
            origin=(numbers["origin_x"], numbers["origin_y"]),
            aisles_after=aisles,
            aisle_width=numbers["aisle_width"],
        )
    elif kind == "arc":
        params.update(
            radius=numbers["radius"],
            angle_span=numbers["angle_span"],
            direction=numbers["direction"],
            centre=(numbers["centre_x"], numbers["centre_y"]),
        )
    return kind, params, errors


def _field_errors(request: Request, exc: ValidationFailed) -> dict[str, str]:
    """The generator's errors on the form's fields (``origin.x`` is the form's ``origin_x``)."""
    _ = translator(request)
    out: dict[str, str] = {}
    for err in exc.errors:
        field = str(err.get("field", "form")).replace(".", "_")
        out.setdefault(field, fill(_(str(err.get("message", ""))), err))
    return out


@router.post("/venues/{venue_id}/layouts/{layout_id}/sections")
async def layout_add_section(
    request: Request, rt: RuntimeDep, actor: StaffDep, venue_id: str, layout_id: str
) -> Response:
    """Generate a section: ``action=preview`` draws it on the map without saving; ``add`` saves it."""
    form = await read_form(request)
    _ = translator(request)
    kind, params, errors = _generator_params(request, form)
    preview = None
    if kind not in layout_service.SECTION_KINDS:
        errors["kind"] = _("Choose one of the options.")
    else:
        try:  # the same generator the service runs: a preview shows exactly what "add" would save
            preview = layout_service.SECTION_KINDS[kind](**params)
        except ValidationFailed as exc:
            errors = {**_field_errors(request, exc), **errors}
    if errors or preview is None:
        return await _editor(request, rt, actor, venue_id, layout_id, gen=form, gen_errors=errors, status_code=422)
    if form.get("action") != "add":
        return await _editor(request, rt, actor, venue_id, layout_id, gen=form, preview=preview)
    await _same_venue(rt, actor, venue_id, layout_id)
    saved, problems, title = await _run(
        request,
        rt,
        lambda uow: layout_service.add_section(uow, actor, layout_id, kind, params, expected_version=_version(form)),
    )
    if saved is None:
        return await _editor(
            request,
            rt,
            actor,
            venue_id,
            layout_id,
            gen=form,
            preview=preview,
            problems=problems,
            problems_title=title,
            status_code=422,
        )
    section = preview.sections[0].id
    flash(
        request,
        _.ngettext(
            "Section {section} added: {n} seat.",
            "Section {section} added: {n} seats.",
            len(preview.seats),
            section=section,
            n=len(preview.seats),
        ),
        "success",
    )
    return redirect(f"/manage/venues/{venue_id}/layouts/{layout_id}")


@router.post("/venues/{venue_id}/layouts/{layout_id}/import")
async def layout_import(request: Request, rt: RuntimeDep, actor: StaffDep, venue_id: str, layout_id: str) -> Response:
    """Replace the layout with a JSON or CSV file (a CSV keeps the layout's sections): all of it or nothing.
    Zones: the layout's own, plus any the operator names (a typo'd zone in a file is caught)."""
    form, upload = await _form_with_file(request)
    _ = translator(request)
    if upload is None:
        problems = [{"where": "—", "field": "file", "message": _("Choose a JSON or CSV file.")}]
        return await _editor(
            request,
            rt,
            actor,
            venue_id,
            layout_id,
            problems=problems,
            problems_title=_("Not imported."),
            status_code=422,
        )
    data, fmt = await _read_upload(upload)
    await _same_venue(rt, actor, venue_id, layout_id)
    async with rt.uow(readonly=True) as uow:
        layout = await layout_service.get_layout(uow, actor, layout_id)
    extra = [z.strip() for z in form.get("zones", "").replace("，", ",").split(",") if z.strip()]
    zones = [*layout.zones, *extra] if layout.seat_count else None
    saved, problems, _title = await _run(
        request,
        rt,
        lambda uow: layout_service.import_layout(
            uow, actor, layout_id, data, fmt, zones=zones, expected_version=_version(form)
        ),
    )
    if saved is None:
        return await _editor(
            request,
            rt,
            actor,
            venue_id,
            layout_id,
            problems=problems,
            problems_title=_("The file was not imported: nothing was saved. Correct these lines and try again."),
            status_code=422,
        )
    flash(
        request,
        _.ngettext("Imported: {n} seat.", "Imported: {n} seats.", saved.seat_count, n=saved.seat_count),
        "success",
    )
    return redirect(f"/manage/venues/{venue_id}/layouts/{layout_id}")


async def _same_venue(rt: RuntimeDep, actor: StaffDep, venue_id: str, layout_id: str) -> None:
    """A layout is addressed under its own venue only (another venue's path is not found)."""
    async with rt.uow(readonly=True) as uow:
        if (await layout_service.get_layout(uow, actor, layout_id)).venue_id != venue_id:
            raise NotFound(kind="seat layout")


async def _export(rt: RuntimeDep, actor: StaffDep, venue_id: str, layout_id: str, fmt: str) -> Response:
    await _same_venue(rt, actor, venue_id, layout_id)
    async with rt.uow(readonly=True) as uow:
        body = await layout_service.export_layout(uow, actor, layout_id, fmt)
    media = "application/json" if fmt == "json" else "text/csv; charset=utf-8"
    # The file is named by the layout's id: a name in any language stays out of the header.
    headers = {"Content-Disposition": f'attachment; filename="layout-{layout_id}.{fmt}"'}
    return Response(body, media_type=media, headers=headers)


@router.get("/venues/{venue_id}/layouts/{layout_id}/export.json")
async def layout_export_json(rt: RuntimeDep, actor: StaffDep, venue_id: str, layout_id: str) -> Response:
    return await _export(rt, actor, venue_id, layout_id, "json")


@router.get("/venues/{venue_id}/layouts/{layout_id}/export.csv")
async def layout_export_csv(rt: RuntimeDep, actor: StaffDep, venue_id: str, layout_id: str) -> Response:
    return await _export(rt, actor, venue_id, layout_id, "csv")
