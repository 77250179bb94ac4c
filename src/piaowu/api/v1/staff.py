"""Staff members and API tokens of the caller's organizer."""

from __future__ import annotations

from fastapi import APIRouter

from piaowu.accounts import service as accounts
from piaowu.accounts.schemas import NewTokenOut, StaffIn, StaffInfo, StaffPatch, TokenIn, TokenInfo
from piaowu.api.deps import ActorDep, RuntimeDep

router = APIRouter()


@router.get("/staff", response_model=list[StaffInfo], summary="Staff members")
async def list_staff(rt: RuntimeDep, actor: ActorDep) -> list[StaffInfo]:
    async with rt.uow(readonly=True) as uow:
        return await accounts.list_staff(uow, actor)


@router.post("/staff", response_model=StaffInfo, status_code=201, summary="Add a staff member")
async def create_staff(rt: RuntimeDep, actor: ActorDep, data: StaffIn) -> StaffInfo:
    async with rt.uow() as uow:
        s = await accounts.create_user(
            uow,
            actor,
            rt.passwords,
            organizer_id=actor.organizer_id,
            email=data.email,
            name=data.name,
            password=data.password,
            role=data.role,
        )
        await uow.commit()
    return s


@router.patch(
    "/staff/{staff_id}",
    response_model=StaffInfo,
    summary="Change a staff member's role, (de)activate them or set a new password",
    responses={403: {"description": "`role_above_yours`"}, 409: {"description": "`conflict`: yourself, last owner"}},
)
async def update_staff(rt: RuntimeDep, actor: ActorDep, staff_id: str, data: StaffPatch) -> StaffInfo:
    async with rt.uow() as uow:
        s = await accounts.update_staff(uow, actor, rt.passwords, staff_id, data)
        await uow.commit()
    return s


@router.get("/tokens", response_model=list[TokenInfo], summary="API tokens")
async def list_tokens(rt: RuntimeDep, actor: ActorDep) -> list[TokenInfo]:
    async with rt.uow(readonly=True) as uow:
        return await accounts.list_tokens(uow, actor)


@router.post("/tokens", response_model=NewTokenOut, status_code=201, summary="Create an API token")
async def create_token(rt: RuntimeDep, actor: ActorDep, data: TokenIn) -> NewTokenOut:
    async with rt.uow() as uow:
        token, info = await accounts.create_token(
            uow, actor, organizer_id=actor.organizer_id, name=data.name, role=data.role
        )
        await uow.commit()
    return NewTokenOut(token=token, **info.model_dump())


@router.post("/tokens/{token_id}/revoke", response_model=TokenInfo, summary="Revoke an API token")
async def revoke_token(rt: RuntimeDep, actor: ActorDep, token_id: str) -> TokenInfo:
    async with rt.uow() as uow:
        info = await accounts.revoke_token(uow, actor, token_id)
        await uow.commit()
    return info
