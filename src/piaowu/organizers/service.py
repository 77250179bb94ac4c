"""Organizers (tenants): creation with their own ticket-signing key; their own settings (the sites a payment
may send the buyer back to)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from piaowu.accounts.permissions import Permission
from piaowu.audit.recorder import record
from piaowu.core.actor import Actor, system_actor
from piaowu.core.errors import Conflict, NotFound, ValidationFailed
from piaowu.core.inputs import checked_name, checked_origins, checked_timezone
from piaowu.core.languages import CONTENT_LOCALES
from piaowu.db.uow import UnitOfWork
from piaowu.organizers import keys
from piaowu.organizers import repository as repo
from piaowu.organizers.models import Organizer
from piaowu.organizers.schemas import OrganizerSettingsOut, OrganizerSettingsPatch

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class OrganizerInfo:
    id: str
    slug: str
    name: str
    timezone: str
    currency: str
    public_key: str
    default_locale: str = "zh-CN"  # the catalog's first language (catalog.texts)


def _check_locale(locale: str) -> None:
    if locale not in CONTENT_LOCALES:
        message = "Choose one of the options."
        raise ValidationFailed([{"field": "default_locale", "code": "invalid", "message": message}])


def _info(o: Organizer) -> OrganizerInfo:
    return OrganizerInfo(o.id, o.slug, o.name, o.timezone, o.currency, o.public_key, o.default_locale)


async def create_organizer(
    uow: UnitOfWork,
    *,
    slug: str,
    name: str,
    app_secret: str,
    timezone: str = "Asia/Shanghai",
    currency: str = "CNY",
    default_locale: str = "zh-CN",
) -> OrganizerInfo:
    """Creates a tenant with a fresh Ed25519 signing key. Slugs are unique; the time zone, currency and default
    language are checked here, whatever the door (the CLI passes them as typed)."""
    if not SLUG.match(slug):
        raise ValidationFailed(
            [{"field": "slug", "code": "invalid", "message": "Use lower-case letters, digits and dashes."}]
        )
    name = checked_name("name", name)
    timezone = checked_timezone("timezone", timezone)
    if not CURRENCY.match(currency):
        raise ValidationFailed([{"field": "currency", "code": "invalid", "message": "Use an ISO 4217 code: CNY."}])
    _check_locale(default_locale)
    if await repo.by_slug(uow.session, slug):
        raise Conflict("An organizer with this slug already exists.")
    sealed, public = keys.new_keypair(app_secret)
    org = Organizer(
        slug=slug,
        name=name,
        timezone=timezone,
        currency=currency,
        default_locale=default_locale,
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
    """The organizer's sealed signing key as stored now (callers open it through a cache keyed by this text, so
    a replaced key takes effect at once in every process)."""
    sealed = await repo.sealed_key(uow.session, organizer_id)
    if sealed is None:
        raise NotFound(kind="organizer")
    return sealed


async def currency_of(uow: UnitOfWork, organizer_id: str) -> str:
    org = await repo.get(uow.session, organizer_id)
    if org is None:
        raise NotFound(kind="organizer")
    return org.currency


# ---- the organizer's own settings ---------------------------------------------------------------------------


async def _load(uow: UnitOfWork, organizer_id: str) -> Organizer:
    org = await repo.get(uow.session, organizer_id)
    if org is None:
        raise NotFound(kind="organizer")
    return org


def _settings(org: Organizer) -> OrganizerSettingsOut:
    return OrganizerSettingsOut(
        name=org.name,
        timezone=org.timezone,
        default_locale=org.default_locale,
        currency=org.currency,
        return_origins=list(org.return_origins or []),
    )


async def get_settings(uow: UnitOfWork, actor: Actor) -> OrganizerSettingsOut:
    """The actor's organizer's settings (owners and admins: ``organizer.settings``)."""
    actor.require(Permission.SETTINGS_MANAGE)
    return _settings(await _load(uow, actor.organizer_id))


async def update_settings(uow: UnitOfWork, actor: Actor, data: OrganizerSettingsPatch) -> OrganizerSettingsOut:
    """Changes the actor's organizer's settings; fields left out stay. ``return_origins`` replaces the list with
    the origins given, each checked and normalized again here (whatever the door: API, page, script), without
    repeats. One audit event names the fields that changed, before and after; an unchanged patch writes nothing.

    The catalog's default language changes only through ``catalog.text_edits.update_organizer_settings``, which
    moves the catalog's plain texts to the new language in the same transaction; here it is refused."""
    actor.require(Permission.SETTINGS_MANAGE)
    org = await _load(uow, actor.organizer_id)
    if data.default_locale is not None and data.default_locale != org.default_locale:
        raise RuntimeError("the default language changes through catalog.text_edits.update_organizer_settings")
    wanted: dict[str, object] = {}
    if data.name is not None:
        wanted["name"] = checked_name("name", data.name)
    if data.timezone is not None:
        wanted["timezone"] = checked_timezone("timezone", data.timezone)
    if data.return_origins is not None:
        wanted["return_origins"] = checked_origins("return_origins", data.return_origins)
    _apply(uow, actor, org, wanted)
    return _settings(org)


async def set_default_locale(uow: UnitOfWork, actor: Actor, locale: str) -> str:
    """Sets the organizer's catalog default language, audited; → the one it replaces (unchanged: nothing is
    written). For ``catalog.text_edits.update_organizer_settings`` only, which moves the catalog's texts with it."""
    actor.require(Permission.SETTINGS_MANAGE)
    _check_locale(locale)
    org = await _load(uow, actor.organizer_id)
    old = org.default_locale
    _apply(uow, actor, org, {"default_locale": locale})
    return old


def _apply(uow: UnitOfWork, actor: Actor, org: Organizer, wanted: dict[str, object]) -> None:
    """Writes the settings in ``wanted`` that differ from the row, with one audit event naming them before and
    after; nothing when none differs."""
    before = {k: getattr(org, k) for k in wanted}
    if "return_origins" in before:
        before["return_origins"] = list(before["return_origins"] or [])
    changed = {k: v for k, v in wanted.items() if before[k] != v}
    if not changed:
        return
    for k, v in changed.items():
        setattr(org, k, v)
    record(
        uow,
        actor,
        "organizer.settings_changed",
        "organizer",
        org.id,
        before={k: before[k] for k in changed},
        after=changed,
    )


async def return_origins_of(uow: UnitOfWork, organizer_id: str) -> list[str]:
    """The origins an organizer listed for its own sites (no permission: payments read them for any caller)."""
    return list((await _load(uow, organizer_id)).return_origins or [])
