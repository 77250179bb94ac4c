"""Staff and API token requests and responses (the service returns these; API and pages share them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, EmailStr, Field, Strict

from piaowu.accounts.permissions import Role
from piaowu.fields import InputModel, PatchModel, RequiredName


class StaffInfo(BaseModel):
    id: str
    organizer_id: str
    email: str
    name: str
    role: str
    is_active: bool
    created_at: datetime


class TokenInfo(BaseModel):
    id: str
    name: str
    role: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenInfo):
    token: str  # shown once; only its digest is stored


class StaffIn(InputModel):
    email: EmailStr
    name: RequiredName = Field(min_length=1, max_length=200)
    password: str = Field(min_length=8, max_length=200)
    role: Annotated[Role, Strict(False)]


class TokenIn(InputModel):
    name: RequiredName = Field(min_length=1, max_length=200)
    role: Annotated[Role, Strict(False)]


class StaffPatch(PatchModel):
    """Changes to a staff member: a new role, (de)activation, a new password. Fields left out stay as they are."""

    role: Annotated[Role, Strict(False)] | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)
