"""The caller's organizer and its own settings."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.organizers import service as organizers
from piaowu.organizers.schemas import OrganizerSettingsOut, OrganizerSettingsPatch

router = APIRouter()


class OrganizerOut(BaseModel):
    id: str
    slug: str
    name: str
    timezone: str
    currency: str
    public_key: str  # Ed25519, base64url: gates verify ticket signatures offline with it


@router.get("/organizer", response_model=OrganizerOut, summary="The organizer this token belongs to")
async def me(rt: RuntimeDep, actor: ActorDep) -> OrganizerOut:
    async with rt.uow(readonly=True) as uow:
        o = await organizers.get_organizer(uow, actor.organizer_id)
    return OrganizerOut(
        id=o.id, slug=o.slug, name=o.name, timezone=o.timezone, currency=o.currency, public_key=o.public_key
    )


@router.get(
    "/organizer/settings",
    response_model=OrganizerSettingsOut,
    summary="The organizer's own settings (owners and admins)",
)
async def settings(rt: RuntimeDep, actor: ActorDep) -> OrganizerSettingsOut:
    async with rt.uow(readonly=True) as uow:
        return await organizers.get_settings(uow, actor)


@router.patch(
    "/organizer/settings",
    response_model=OrganizerSettingsOut,
    summary="Change the organizer's own settings (owners and admins)",
    responses={422: {"description": "`validation_error`: per-field `errors` (`return_origins.<index>`)"}},
)
async def update_settings(rt: RuntimeDep, actor: ActorDep, data: OrganizerSettingsPatch) -> OrganizerSettingsOut:
    """`return_origins`: the origins (`https://tickets.example.com`, no path) of the organizer's own sites to
    which a payment's `return_url` may send the buyer back, besides this server and the installation's list.
    Replaces the whole list (`[]` empties it); stored normalized (lower-case host, no default port)."""
    async with rt.uow() as uow:
        out = await organizers.update_settings(uow, actor, data)
        await uow.commit()
    return out
