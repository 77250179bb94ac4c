"""Staff members and API tokens of the caller's organizer."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from piaowu.accounts import service as accounts
from piaowu.accounts.permissions import Role
from piaowu.api.deps import ActorDep, RuntimeDep

router = APIRouter()


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=8, max_length=200)
    role: Role


class StaffOut(BaseModel):
    id: str
    email: str
    name: str
    role: str
    is_active: bool
    created_at: datetime


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role


class TokenOut(BaseModel):
    id: str
    name: str
    role: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str  # shown once; only its digest is stored


@router.get("/staff", response_model=list[StaffOut], summary="Staff members")
async def list_staff(rt: RuntimeDep, actor: ActorDep) -> list[StaffOut]:
    async with rt.uow(readonly=True) as uow:
        return [StaffOut(**s.__dict__) for s in await accounts.list_staff(uow, actor)]


@router.post("/staff", response_model=StaffOut, status_code=201, summary="Add a staff member")
async def create_staff(rt: RuntimeDep, actor: ActorDep, data: StaffIn) -> StaffOut:
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
    return StaffOut(**s.__dict__)


@router.get("/tokens", response_model=list[TokenOut], summary="API tokens")
async def list_tokens(rt: RuntimeDep, actor: ActorDep) -> list[TokenOut]:
    async with rt.uow(readonly=True) as uow:
        return [TokenOut(**t.__dict__) for t in await accounts.list_tokens(uow, actor)]


@router.post("/tokens", response_model=NewTokenOut, status_code=201, summary="Create an API token")
async def create_token(rt: RuntimeDep, actor: ActorDep, data: TokenIn) -> NewTokenOut:
    async with rt.uow() as uow:
        token, info = await accounts.create_token(
            uow, actor, organizer_id=actor.organizer_id, name=data.name, role=data.role
        )
        await uow.commit()
    return NewTokenOut(token=token, **info.__dict__)


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut, summary="Revoke an API token")
async def revoke_token(rt: RuntimeDep, actor: ActorDep, token_id: str) -> TokenOut:
    async with rt.uow() as uow:
        info = await accounts.revoke_token(uow, actor, token_id)
        await uow.commit()
    return TokenOut(**info.__dict__)
