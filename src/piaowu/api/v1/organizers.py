"""The caller's organizer."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.organizers import service as organizers

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
