"""The organizer's own settings beyond return origins: its name, time zone and catalog language. A new catalog
language moves every plain catalog text in the same transaction; another organizer's catalog is untouched."""

from __future__ import annotations

from datetime import timedelta

import pydantic
import pytest
from sqlalchemy import select

from piaowu.audit.models import AuditEvent
from piaowu.catalog import event_service, session_service, ticket_type_service, venue_service
from piaowu.catalog.event_ticket_type_service import create_definition
from piaowu.catalog.models import Event, EventTicketType, Session, TicketType, Venue
from piaowu.catalog.schemas import EventIn, SessionIn, TicketTypeIn
from piaowu.catalog.series_schemas import EventTicketTypeIn
from piaowu.catalog.text_edits import TRANSLATED, update_organizer_settings
from piaowu.catalog.venue_schemas import VenueIn
from piaowu.core.errors import PermissionDenied, ValidationFailed
from piaowu.db.base import Base
from piaowu.organizers import service as organizers
from piaowu.organizers.schemas import OrganizerSettingsPatch
from piaowu.runtime import Runtime
from tests.factories import actor_for_user, owner_actor, staff_member


def test_every_translated_column_is_moved_with_the_language() -> None:
    # A table with a text map that TRANSLATED does not name would keep its plain column in the old language.
    moved = {(m.__tablename__, f"{f}_i18n") for m, fields in TRANSLATED for f in fields}
    in_schema = {(t.name, c.name) for t in Base.metadata.tables.values() for c in t.columns if c.name.endswith("_i18n")}
    assert moved == in_schema


async def _catalog(rt: Runtime, actor) -> str:  # noqa: ANN001
    now = rt.clock.now()
    async with rt.uow() as uow:
        venue = await venue_service.create_venue(
            uow, actor, VenueIn(name_i18n={"zh-CN": "大剧场", "en": "Main Hall"}, address="人民大道 1 号")
        )
        ev = await event_service.create_event(
            uow,
            actor,
            EventIn(
                name_i18n={"zh-CN": "新年音乐会", "en": "New Year Concert"},
                description_i18n={"zh-CN": "交响乐。"},
                venue_id=venue.id,
            ),
        )
        s = await session_service.create_session(
            uow,
            actor,
            ev.id,
            SessionIn(
                name_i18n={"zh-CN": "晚场", "en": "Evening"},
                starts_at=now + timedelta(days=3),
                ends_at=now + timedelta(days=3, hours=2),
                capacity=10,
            ),
        )
        await ticket_type_service.create_ticket_type(
            uow, actor, s.id, TicketTypeIn(name_i18n={"zh-CN": "成人票", "en": "Adult"}, price_minor=100)
        )
        await create_definition(uow, actor, ev.id, EventTicketTypeIn(name="学生票", price_minor=50))
        await uow.commit()
    return ev.id


async def _plain(rt: Runtime, organizer_id: str) -> dict[str, list[str]]:
    async with rt.uow(readonly=True) as uow:
        out: dict[str, list[str]] = {}
        for model, fields in TRANSLATED:
            rows = await uow.session.scalars(select(model).where(model.organizer_id == organizer_id))
            for row in rows:
                out.setdefault(model.__tablename__, []).extend(getattr(row, f) for f in fields)
        return out


async def test_a_new_catalog_language_moves_every_plain_text(runtime: Runtime, tenant, other_tenant) -> None:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    other = await owner_actor(runtime, other_tenant.owner_id)
    await _catalog(runtime, actor)
    await _catalog(runtime, other)
    before_other = await _plain(runtime, other_tenant.organizer_id)

    async with runtime.uow() as uow:
        out = await update_organizer_settings(uow, actor, OrganizerSettingsPatch(default_locale="en"))
        await uow.commit()
    assert out.default_locale == "en"
    assert await _plain(runtime, tenant.organizer_id) == {
        Venue.__tablename__: ["Main Hall", "人民大道 1 号"],  # no English address: the Chinese one stays
        Event.__tablename__: ["New Year Concert", "交响乐。"],
        Session.__tablename__: ["Evening"],
        TicketType.__tablename__: ["Adult", ""],
        EventTicketType.__tablename__: ["学生票", ""],
    }
    assert await _plain(runtime, other_tenant.organizer_id) == before_other  # another organizer's: untouched

    # A text written with no language from now on is the new default's.
    async with runtime.uow() as uow:
        ev = await event_service.create_event(uow, actor, EventIn(name="Spring Gala"))
        await uow.commit()
    assert ev.name_i18n == {"en": "Spring Gala"}

    # And back: the Chinese texts return; the move wrote each language's text into the map, so none was lost.
    async with runtime.uow() as uow:
        await update_organizer_settings(uow, actor, OrganizerSettingsPatch(default_locale="zh-CN"))
        await uow.commit()
    plain = await _plain(runtime, tenant.organizer_id)
    assert plain[Event.__tablename__][:2] == ["新年音乐会", "交响乐。"]
    assert plain[Session.__tablename__] == ["晚场"]
    async with runtime.uow(readonly=True) as uow:
        changes = (
            await uow.session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "organizer.settings_changed", AuditEvent.subject_id == tenant.organizer_id
                )
            )
        ).all()
    assert sorted((e.before["default_locale"], e.after["default_locale"]) for e in changes) == [
        ("en", "zh-CN"),
        ("zh-CN", "en"),
    ]


async def test_name_and_time_zone_change_and_are_audited_once(runtime: Runtime, tenant) -> None:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    patch = OrganizerSettingsPatch(name="  Grand Theatre ", timezone="Europe/Berlin")
    async with runtime.uow() as uow:
        out = await update_organizer_settings(uow, actor, patch)
        await uow.commit()
    assert (out.name, out.timezone, out.default_locale) == ("Grand Theatre", "Europe/Berlin", "zh-CN")
    async with runtime.uow() as uow:  # the same again: nothing to write
        await update_organizer_settings(uow, actor, patch)
        await uow.commit()
    async with runtime.uow(readonly=True) as uow:
        info = await organizers.get_organizer(uow, tenant.organizer_id)
        events = (
            await uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "organizer.settings_changed"))
        ).all()
    assert (info.name, info.timezone) == ("Grand Theatre", "Europe/Berlin")
    assert [(e.before, e.after) for e in events] == [
        (
            {"name": "demo-theatre org", "timezone": "Asia/Shanghai"},
            {"name": "Grand Theatre", "timezone": "Europe/Berlin"},
        )
    ]


async def test_a_blank_zone_or_an_unknown_language_is_refused_and_nothing_changes(runtime: Runtime, tenant) -> None:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    with pytest.raises(pydantic.ValidationError, match="Enter a time zone"):
        OrganizerSettingsPatch(timezone="  ")
    # The service checks again, whatever built the patch.
    with pytest.raises(ValidationFailed) as blank:
        async with runtime.uow() as uow:
            patch = OrganizerSettingsPatch.model_construct(name="New", timezone="  ")
            await update_organizer_settings(uow, actor, patch)
    assert blank.value.errors[0]["field"] == "timezone"
    with pytest.raises(ValidationFailed):
        async with runtime.uow() as uow:
            await organizers.set_default_locale(uow, actor, "fr")
    async with runtime.uow(readonly=True) as uow:
        info = await organizers.get_organizer(uow, tenant.organizer_id)
    assert (info.name, info.timezone, info.default_locale) == ("demo-theatre org", "Asia/Shanghai", "zh-CN")


async def test_a_clerk_may_not_change_them(runtime: Runtime, tenant) -> None:  # noqa: ANN001
    clerk = actor_for_user(await staff_member(runtime, tenant.organizer_id, "sales", "s@x.cn"))
    for patch in (OrganizerSettingsPatch(name="Mine"), OrganizerSettingsPatch(default_locale="en")):
        with pytest.raises(PermissionDenied):
            async with runtime.uow() as uow:
                await update_organizer_settings(uow, clerk, patch)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("timezone", {"timezone": "Mars/Olympus"}),
        ("timezone", {"timezone": "../../etc/passwd"}),
        ("currency", {"currency": "rmb"}),
        ("default_locale", {"default_locale": "fr"}),
    ],
)
async def test_an_organizer_is_created_only_with_a_real_zone_currency_and_language(
    runtime: Runtime, field: str, kwargs: dict[str, str]
) -> None:
    # The CLI passes what was typed: a bad zone stored here made every page of the organizer fail later.
    with pytest.raises(ValidationFailed) as refused:
        async with runtime.uow() as uow:
            await organizers.create_organizer(uow, slug="new-org", name="New", app_secret="s" * 32, **kwargs)
    assert refused.value.errors[0]["field"] == field
