"""Staff members and API tokens (owner / admin). A new token is shown exactly once, then only its prefix."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from piaowu.accounts import service as accounts
from piaowu.accounts.permissions import Role
from piaowu.accounts.schemas import StaffPatch
from piaowu.core.errors import RoleAboveYours
from piaowu.fields import Name
from piaowu.web.deps import RuntimeDep, StaffDep
from piaowu.web.manage.common import FormErrors, page, read_form, redirect, submit, translator
from piaowu.web.templating import flash

router = APIRouter()


class StaffForm(BaseModel):
    """What the page checks before the service does (the service checks again)."""

    model_config = ConfigDict(extra="ignore")

    name: Name = Field(min_length=1, max_length=200)
    email: EmailStr
    password: str = Field(min_length=8, max_length=200)
    role: Role


class TokenForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Name = Field(min_length=1, max_length=100)
    role: Role


async def _staff_page(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    *,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        people = await accounts.list_staff(uow, actor)
    # Only the roles this member may give are offered (the service refuses the others anyway).
    ctx: dict[str, Any] = {"people": people, "roles": accounts.roles_for(actor), "values": values or {"role": "sales"}}
    ctx["errors"] = errors or {}
    ctx["manageable"] = {p.id for p in people if accounts.may_manage(actor, p)}  # "Edit" only where it can work
    return await page(request, rt, actor, "manage/staff.html", ctx, active="staff", status_code=status_code)


@router.get("/staff")
async def staff(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    return await _staff_page(request, rt, actor)


@router.post("/staff")
async def staff_create(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    form = await read_form(request)
    values = {k: form.get(k, "").strip() for k in ("name", "email", "role")}
    created, errors = await submit(
        request,
        rt,
        StaffForm,
        {**values, "password": form.get("password", "")},
        lambda uow, data: accounts.create_user(
            uow,
            actor,
            rt.passwords,
            organizer_id=actor.organizer_id,
            email=str(data.email),
            name=data.name,
            password=data.password,
            role=data.role.value,
        ),
    )
    if created is None:
        if "email" in errors:  # the e-mail validator's own sentence is English-only
            errors["email"] = translator(request)("Enter a valid e-mail address.")
        return await _staff_page(request, rt, actor, values=values, errors=errors, status_code=422)
    flash(
        request,
        translator(request)("{name} can now sign in as {email}.", name=created.name, email=created.email),
        "success",
    )
    return redirect("/manage/staff")


async def _member_page(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    staff_id: str,
    *,
    values: dict[str, Any] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        member = await accounts.get_staff(uow, actor, staff_id)
    if not accounts.may_manage(actor, member):  # an admin opening an owner: nothing here they could do
        raise RoleAboveYours(role=member.role)
    roles = accounts.roles_for(actor)
    ctx = {
        "member": member,
        "is_self": member.id == actor.id,
        "roles": roles,
        "values": values or {"role": member.role, "is_active": member.is_active},
        "errors": errors or {},
    }
    return await page(request, rt, actor, "manage/staff_member.html", ctx, active="staff", status_code=status_code)


@router.get("/staff/{staff_id}")
async def staff_member(request: Request, rt: RuntimeDep, actor: StaffDep, staff_id: str) -> Response:
    return await _member_page(request, rt, actor, staff_id)


@router.post("/staff/{staff_id}")
async def staff_update(request: Request, rt: RuntimeDep, actor: StaffDep, staff_id: str) -> Response:
    form = await read_form(request)
    values: dict[str, Any] = {"role": form.get("role", "").strip(), "is_active": bool(form.get("is_active"))}
    # Left out when blank: the password stays as it is (a PATCH refuses null for it).
    data = {**values, **({"password": form["password"]} if form.get("password") else {})}
    updated, errors = await submit(
        request,
        rt,
        StaffPatch,
        data,
        lambda uow, cmd: accounts.update_staff(uow, actor, rt.passwords, staff_id, cmd),
    )
    if updated is None:
        return await _member_page(request, rt, actor, staff_id, values=values, errors=errors, status_code=422)
    flash(request, translator(request)("Changes to {name} saved.", name=updated.name), "success")
    return redirect("/manage/staff")


async def _tokens_page(
    request: Request,
    rt: RuntimeDep,
    actor: StaffDep,
    *,
    new_token: str = "",
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        tokens = await accounts.list_tokens(uow, actor)
    ctx = {
        "tokens": tokens,
        "roles": accounts.roles_for(actor),
        "new_token": new_token,
        "values": values or {"role": "sales"},
        "errors": errors or {},
    }
    response = await page(request, rt, actor, "manage/tokens.html", ctx, active="tokens", status_code=status_code)
    response.headers["Cache-Control"] = "no-store"  # the page may carry a secret shown once
    return response


@router.get("/tokens")
async def tokens(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    return await _tokens_page(request, rt, actor)


@router.post("/tokens")
async def token_create(request: Request, rt: RuntimeDep, actor: StaffDep) -> Response:
    form = await read_form(request)
    values = {k: form.get(k, "").strip() for k in ("name", "role")}
    created, errors = await submit(
        request,
        rt,
        TokenForm,
        values,
        lambda uow, data: accounts.create_token(
            uow, actor, organizer_id=actor.organizer_id, name=data.name, role=data.role.value
        ),
    )
    if created is None:
        return await _tokens_page(request, rt, actor, values=values, errors=errors, status_code=422)
    # Rendered directly, never through a redirect or the session: the secret exists only in this response.
    return await _tokens_page(request, rt, actor, new_token=created[0])


@router.post("/tokens/{token_id}/revoke")
async def token_revoke(request: Request, rt: RuntimeDep, actor: StaffDep, token_id: str) -> Response:
    await read_form(request)
    async with rt.uow() as uow:
        info = await accounts.revoke_token(uow, actor, token_id)
        await uow.commit()
    flash(
        request,
        translator(request)("Token “{name}” revoked. Requests with it are refused from now on.", name=info.name),
        "success",
    )
    return redirect("/manage/tokens")
