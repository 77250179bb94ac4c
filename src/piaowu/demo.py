"""Demo data for a fresh install (``piaowu demo``), created through the real services like any organizer's.

One organizer ("demo"), three staff logins, a concert with two evening sessions in a 500-seat hall sold by seat
(a seat layout with zones A and B, adult and student prices per zone), a boat cruise with one session a day for
the next seven days, and a scenic area whose 30 daily sessions are generated from one rule.
Dates are relative to today in the organizer's time zone, so a demo seeded today always has something on sale.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from piaowu.accounts import service as accounts
from piaowu.catalog import (
    event_service,
    event_ticket_type_service,
    series_service,
    session_service,
    ticket_type_service,
    venue_service,
)
from piaowu.catalog.rules import EventKind
from piaowu.catalog.schemas import EventIn, SessionIn, TicketTypeIn
from piaowu.catalog.series_schemas import EventTicketTypeIn, SeriesIn
from piaowu.catalog.venue_schemas import VenueIn
from piaowu.core.actor import Actor
from piaowu.core.errors import Conflict, NotFound
from piaowu.db.uow import UnitOfWork
from piaowu.organizers import service as organizers
from piaowu.runtime import Runtime
from piaowu.seating import generate, layout_service, session_seating
from piaowu.seating.layout import SeatMap, combine

DEMO_SLUG = "demo"
DEMO_NAME = "演示剧院 Demo Theatre"
DEMO_TZ = "Asia/Shanghai"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    what: str


# Deliberately simple and documented in README.md: this is a demo, never a production install.
DEMO_LOGINS = (
    DemoLogin("owner", "admin@demo.piaowu", "demo-admin-pass", "owner: everything, including staff and tokens"),
    DemoLogin("sales", "sales@demo.piaowu", "demo-sales-pass", "box-office clerk"),
    DemoLogin("gate", "gate@demo.piaowu", "demo-gate-pass", "gate staff: check-in"),
)


@dataclass(frozen=True)
class DemoResult:
    created: bool
    organizer_id: str
    api_token: str | None  # shown once, on creation only


@dataclass(frozen=True)
class _Type:
    zh: str  # its name in each language: the shop shows the buyer's
    en: str
    price_minor: int
    quota: int | None = None
    max_per_order: int = 10


# The concert sells seats: its ticket types are who the buyer is; what a seat costs is its zone's price for that
# ticket type (CONCERT_PRICES). A ticket type's own price is its dearest zone's.
CONCERT_TYPES = (
    _Type("成人票", "Adult", 38000, max_per_order=6),
    _Type("学生票", "Student", 28000, max_per_order=4),
)
CONCERT_PRICES = {"A": (38000, 28000), "B": (18000, 12000)}  # zone → (adult, student), fen


def concert_hall() -> SeatMap:
    """The main hall's 500 seats: stalls A (zone A, 10 rows of 20 numbered the theatre way, odd seats right of
    the centre, even left, two aisles) in front of the rear stalls B (zone B, 12 rows of 25, rows A–M). Two
    wheelchair spaces with their companion seats at the end of row 10, two seats behind a pillar, and two house
    seats kept back."""
    stalls = generate.rect_section(
        section_id="A",
        label="池座A区 Stalls A",
        rows=10,
        seats_per_row=20,
        zone="A",
        numbering="odd_even",
        aisles_after=[5, 15],
        origin=(100.0, 300.0),
    )
    rear = generate.rect_section(
        section_id="B",
        label="池座B区 Stalls B",
        rows=12,
        seats_per_row=25,
        zone="B",
        row_labels="letters",
        origin=(0.0, 300.0 + 10 * 90.0 + 200.0),
    )
    hall = combine(stalls, rear)
    marks: dict[tuple[str, str, str], dict[str, object]] = {
        ("A", "10", "20"): {"attributes": frozenset({"wheelchair"})},
        ("A", "10", "18"): {"attributes": frozenset({"companion"})},
        ("A", "10", "19"): {"attributes": frozenset({"wheelchair"})},
        ("A", "10", "17"): {"attributes": frozenset({"companion"})},
        ("B", "C", "6"): {"attributes": frozenset({"restricted_view"})},
        ("B", "C", "20"): {"attributes": frozenset({"restricted_view"})},
        ("A", "5", "1"): {"blocked_reason": "house"},
        ("A", "5", "2"): {"blocked_reason": "house"},
    }
    seats = tuple(dataclasses.replace(seat, **marks.get(seat.key, {})) for seat in hall.seats)  # type: ignore[arg-type]
    return SeatMap(hall.sections, seats)


CRUISE_TYPES = (
    _Type("成人票", "Adult", 7000),
    _Type("儿童票", "Child", 3500, max_per_order=4),
)


async def seed_demo(rt: Runtime) -> DemoResult:
    """Creates the demo organizer and its data in one transaction, or nothing when "demo" already exists."""
    async with rt.uow(readonly=True) as uow:
        try:
            org = await organizers.get_by_slug(uow, DEMO_SLUG)
            return DemoResult(False, org.id, None)
        except NotFound:
            pass
    try:
        return await _create(rt)
    except Conflict:  # another `piaowu demo` won the race: same outcome as "already there"
        async with rt.uow(readonly=True) as uow:
            org = await organizers.get_by_slug(uow, DEMO_SLUG)
        return DemoResult(False, org.id, None)


async def _create(rt: Runtime) -> DemoResult:
    tz = ZoneInfo(DEMO_TZ)
    today = rt.clock.now().astimezone(tz).date()
    async with rt.uow() as uow:
        org = await organizers.create_organizer(uow, slug=DEMO_SLUG, name=DEMO_NAME, app_secret=rt.secret_key)
        actors: dict[str, Actor] = {}
        for login in DEMO_LOGINS:
            user = await accounts.create_user(
                uow,
                None,
                rt.passwords,
                organizer_id=org.id,
                email=login.email,
                name=login.email.split("@")[0].title(),
                password=login.password,
                role=login.role,
            )
            actors[login.role] = accounts.actor_for_user(user)
        owner = actors["owner"]
        token, _ = await accounts.create_token(uow, None, organizer_id=org.id, name="demo", role="owner")

        hall = await venue_service.create_venue(
            uow,
            owner,
            VenueIn(
                name_i18n={"zh-CN": "演示剧院 大剧场", "en": "Demo Theatre Main Hall"},
                address_i18n={"zh-CN": "上海市黄浦区人民大道 1 号", "en": "1 People's Avenue, Huangpu, Shanghai"},
                timezone=DEMO_TZ,
                entrances=["北门 North gate", "南门 South gate", "贵宾通道 VIP entrance"],
            ),
        )
        concert = await event_service.create_event(
            uow,
            owner,
            EventIn(
                name_i18n={"zh-CN": "新年音乐会", "en": "New Year Concert"},
                kind=EventKind.PERFORMANCE,
                description_i18n={
                    "zh-CN": "交响乐团新年音乐会。",
                    "en": "The symphony orchestra's New Year concert.",
                },
                venue_id=hall.id,
                is_published=True,
            ),
        )
        layout = await layout_service.save_layout(uow, owner, hall.id, "音乐会 Concert", concert_hall())
        for days in (7, 14):
            starts = _at(today + timedelta(days=days), time(19, 30), tz)
            session_id, type_ids = await _session(
                uow, owner, concert.id, starts, timedelta(hours=2), capacity=500, types=CONCERT_TYPES
            )
            await session_seating.assign_layout(uow, owner, session_id, layout.id)
            await session_seating.set_zone_prices(
                uow,
                owner,
                session_id,
                [
                    (zone, type_id, price)
                    for zone, prices in CONCERT_PRICES.items()
                    for type_id, price in zip(type_ids, prices, strict=True)
                ],
            )

        pier = await venue_service.create_venue(
            uow,
            owner,
            VenueIn(
                name_i18n={"zh-CN": "西湖游船码头", "en": "West Lake Pier"},
                address_i18n={"zh-CN": "浙江省杭州市西湖区", "en": "West Lake District, Hangzhou, Zhejiang"},
                timezone=DEMO_TZ,
                entrances=["码头入口 Pier gate"],
            ),
        )
        cruise = await event_service.create_event(
            uow,
            owner,
            EventIn(
                name_i18n={"zh-CN": "西湖游船", "en": "West Lake Cruise"},
                kind=EventKind.ATTRACTION,
                description_i18n={"zh-CN": "乘船游览西湖。", "en": "A boat tour of West Lake."},
                venue_id=pier.id,
                is_published=True,
            ),
        )
        for days in range(7):  # today included: the gate has something to admit right away
            starts = _at(today + timedelta(days=days), time(9, 0), tz)
            await _session(
                uow, owner, cruise.id, starts, timedelta(hours=8, minutes=30), capacity=800, types=CRUISE_TYPES
            )
        await _scenic_area(uow, owner, today)
        await uow.commit()
    return DemoResult(True, org.id, token)


SCENIC_TYPES = (
    EventTicketTypeIn(name_i18n={"zh-CN": "成人票", "en": "Adult"}, price_minor=10000, sort_order=0),
    EventTicketTypeIn(
        name_i18n={"zh-CN": "学生票", "en": "Student"}, price_minor=5000, quota=200, max_per_order=4, sort_order=1
    ),
    EventTicketTypeIn(name_i18n={"zh-CN": "老年票", "en": "Senior"}, price_minor=5000, sort_order=2),
)


async def _scenic_area(uow: UnitOfWork, owner: Actor, today: date) -> None:
    """A scenic area sold by the day: its ticket types defined once for the event, and 30 daily sessions (08:00
    to 17:00) generated from one rule (sessions in series, catalog/series_service.py)."""
    centre = await venue_service.create_venue(
        uow,
        owner,
        VenueIn(
            name_i18n={"zh-CN": "玉龙雪山游客中心", "en": "Jade Dragon Visitor Centre"},
            address_i18n={"zh-CN": "云南省丽江市玉龙纳西族自治县", "en": "Yulong County, Lijiang, Yunnan"},
            timezone=DEMO_TZ,
            entrances=["游客中心检票口 Visitor centre gate", "索道站 Cable car station"],
        ),
    )
    park = await event_service.create_event(
        uow,
        owner,
        EventIn(
            name_i18n={"zh-CN": "玉龙雪山景区", "en": "Jade Dragon Snow Mountain"},
            kind=EventKind.ATTRACTION,
            description_i18n={
                "zh-CN": "每日开放的景区，门票按日销售。",
                "en": "A scenic area open every day, sold by the day.",
            },
            venue_id=centre.id,
            is_published=True,
        ),
    )
    for t in SCENIC_TYPES:
        await event_ticket_type_service.create_definition(uow, owner, park.id, t)
    rule = SeriesIn(
        first_date=today,
        last_date=today + timedelta(days=29),
        start_times=[time(8, 0)],
        duration_minutes=9 * 60,
        timezone=DEMO_TZ,
        capacity=2000,
        status="on_sale",
    )
    await series_service.generate_series(uow, owner, park.id, rule)


def _at(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


async def _session(
    uow: UnitOfWork,
    owner: Actor,
    event_id: str,
    starts_at: datetime,
    length: timedelta,
    *,
    capacity: int,
    types: tuple[_Type, ...],
    name: str = "",
) -> tuple[str, list[str]]:
    """A session on sale and its ticket types: → (session id, ticket type ids in the order of ``types``)."""
    s = await session_service.create_session(
        uow,
        owner,
        event_id,
        SessionIn(name=name, starts_at=starts_at, ends_at=starts_at + length, capacity=capacity, status="on_sale"),
    )
    type_ids = []
    for order, t in enumerate(types):
        tt = await ticket_type_service.create_ticket_type(
            uow,
            owner,
            s.id,
            TicketTypeIn(
                name_i18n={"zh-CN": t.zh, "en": t.en},
                price_minor=t.price_minor,
                quota=t.quota,
                max_per_order=t.max_per_order,
                sort_order=order,
            ),
        )
        type_ids.append(tt.id)
    return s.id, type_ids
