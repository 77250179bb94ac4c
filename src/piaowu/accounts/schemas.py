"""Staff and API token requests and responses (the service returns these; API and pages share them)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from piaowu.accounts.permissions import Role


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


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=8, max_length=200)
    role: Role


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role


class StaffPatch(BaseModel):
    """Changes to a staff member: a new role, (de)activation, a new password. Fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)
