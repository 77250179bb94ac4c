"""Organizers (tenants): creation with their own ticket-signing key."""

from __future__ import annotations

import re
from dataclasses import dataclass

from piaowu.audit.recorder import record
from piaowu.core.actor import system_actor
from piaowu.core.errors import Conflict, NotFound, ValidationFailed
from piaowu.core.inputs import checked_name
from piaowu.db.uow import UnitOfWork
from piaowu.organizers import repository as repo
from piaowu.organizers.models import Organizer
from piaowu.tickets import keys

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


@dataclass(frozen=True)
class OrganizerInfo:
    id: str
    slug: str
    name: str
    timezone: str
    currency: str
    public_key: str


def _info(o: Organizer) -> OrganizerInfo:
    return OrganizerInfo(o.id, o.slug, o.name, o.timezone, o.currency, o.public_key)


async def create_organizer(
    uow: UnitOfWork, *, slug: str, name: str, app_secret: str, timezone: str = "Asia/Shanghai", currency: str = "CNY"
) -> OrganizerInfo:
    """Creates a tenant with a fresh Ed25519 signing key. Slugs are unique."""
    if not SLUG.match(slug):
        raise ValidationFailed(
            [{"field": "slug", "code": "invalid", "message": "Use lower-case letters, digits and dashes."}]
        )
    name = checked_name("name", name)
    if await repo.by_slug(uow.session, slug):
        raise Conflict("An organizer with this slug already exists.")
    sealed, public = keys.new_keypair(app_secret)
    org = Organizer(
        slug=slug,
        name=name,
        timezone=timezone,
        currency=currency,
        signing_key_encrypted=sealed,
        public_key=public,
        created_at=uow.now(),
    )
    uow.session.add(org)
    await uow.session.flush()
    record(uow, system_actor(org.id), "organizer.created", "organizer", org.id, after={"slug": slug, "name": name})
    return _info(org)


async def get_organizer(uow: UnitOfWork, organizer_id: str) -> OrganizerInfo:
    org = await repo.get(uow.session, organizer_id)
    if org is None:
        raise NotFound(kind="organizer")
    return _info(org)


async def get_by_slug(uow: UnitOfWork, slug: str) -> OrganizerInfo:
    org = await repo.by_slug(uow.session, slug)
    if org is None:
        raise NotFound(kind="organizer")
    return _info(org)


async def list_organizers(uow: UnitOfWork) -> list[OrganizerInfo]:
    return [_info(o) for o in await repo.list_all(uow.session)]


async def sealed_signing_key(uow: UnitOfWork, organizer_id: str) -> str:
    org = await repo.get(uow.session, organizer_id)
    if org is None:
        raise NotFound(kind="organizer")
    return org.signing_key_encrypted


async def currency_of(uow: UnitOfWork, organizer_id: str) -> str:
    org = await repo.get(uow.session, organizer_id)
    if org is None:
        raise NotFound(kind="organizer")
    return org.currency
