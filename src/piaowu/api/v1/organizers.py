"""The caller's organizer and its own settings."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.catalog.text_edits import update_organizer_settings
from piaowu.organizers import service as organizers
from piaowu.organizers.schemas import OrganizerSettingsOut, OrganizerSettingsPatch

router = APIRouter()


class OrganizerOut(BaseModel):
    id: str
    slug: str
    name: str
    timezone: str
    currency: str
    default_locale: str  # the language the catalog is written in first
    public_key: str  # Ed25519, base64url: gates verify ticket signatures offline with it


@router.get("/organizer", response_model=OrganizerOut, summary="The organizer this token belongs to")
async def me(rt: RuntimeDep, actor: ActorDep) -> OrganizerOut:
    async with rt.uow(readonly=True) as uow:
        o = await organizers.get_organizer(uow, actor.organizer_id)
    return OrganizerOut(
        id=o.id,
        slug=o.slug,
        name=o.name,
        timezone=o.timezone,
        currency=o.currency,
        default_locale=o.default_locale,
        public_key=o.public_key,
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
    responses={
        422: {"description": "`validation_error`: per-field `errors` (`name`, `timezone`, `return_origins.<index>`)"}
    },
)
async def update_settings(rt: RuntimeDep, actor: ActorDep, data: OrganizerSettingsPatch) -> OrganizerSettingsOut:
    """Fields left out stay as they are; one audit event names what changed.

    - `name`: the organization's name, as the shop, tickets and the back office show it.
    - `timezone`: an IANA zone (`Asia/Shanghai`): times are shown in it where a venue has none of its own, and
      the dashboard's "today" is its calendar day.
    - `default_locale` (`zh-CN` or `en`): the language the catalog is written in first. Changing it moves every
      plain catalog text (`name`, `description`, …: what a client that ignores `*_i18n` reads, and what a reader
      whose language a text lacks sees) to that language, or keeps the old one's where a text has none in it.
    - `return_origins`: the origins (`https://tickets.example.com`, no path) of the organizer's own sites to
      which a payment's `return_url` may send the buyer back, besides this server and the installation's list.
      Replaces the whole list (`[]` empties it); stored normalized (lower-case host, no default port).

    Other processes of the server see the change within the shop's cache time (under a second)."""
    async with rt.uow() as uow:
        out = await update_organizer_settings(uow, actor, data)
        await uow.commit()
    rt.shop_cache.invalidate()  # this process shows the change at once (the others within the cache's time)
    return out
