"""The seat picker (static/seatmap.js) in a real browser against the real server and its shop JSON (seat-map,
seat-availability deltas, best-available): seats picked by touch on a phone and by keyboard on a desktop, bought,
and shown sold in a second browser within seconds; a best-available preview confirmed and bought; a seat another
buyer takes while it is chosen, named on the page; a big house (40,500 seats in 9 sections) that opens on its
sections and fetches a section's seats only when zoomed into, or when an arrow key crosses into it. Screenshots on
a phone (390×844) and a desktop (1280×800) in zh-CN and en go to test-artifacts/.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import pytest

from piaowu.config import Settings
from piaowu.runtime import build_runtime
from piaowu.seating.layout import SeatMap
from tests.browser import Tab
from tests.seating_world import SeatingWorld, grid_map, seating_world
from tests.servers import LiveServer, run_async

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = (390, 844)
DESKTOP = (1280, 800)
SOLD_WITHIN_MS = 8_000  # polled every 2 s, availability at most ~1 s stale: a few seconds at most


def seated_session(
    server: LiveServer,
    max_per_order: int = 6,
    rows: int = 3,
    seats_per_row: int = 10,
    more_attributes: dict | None = None,
    seat_map: SeatMap | None = None,
    blocked: tuple[tuple[str, str, str], ...] = (),
) -> SeatingWorld:
    """A seated session (tests/seating_world.py: sections A and B, 60 seats, adult/student prices per zone) in
    the live server's database, with a wheelchair space, its companion seat and a pillar seat; ``blocked`` seats
    kept back by the layout."""

    async def build() -> SeatingWorld:
        settings = Settings(**{k.removeprefix("PIAOWU_").lower(): v for k, v in server.env.items()})
        rt = build_runtime(settings)
        try:
            attrs = {
                ("A", "1", "1"): {"wheelchair"},
                ("A", "1", "2"): {"companion"},
                ("B", "2", "5"): {"restricted_view"},
                **(more_attributes or {}),
            }
            return await seating_world(
                rt,
                slug=f"seats-{uuid.uuid4().hex[:8]}",
                attributes=attrs,
                max_per_order=max_per_order,
                rows_a=rows,
                rows_b=rows,
                seats_per_row=seats_per_row,
                seat_map=seat_map,
                blocked=blocked,
            )
        finally:
            await rt.db.dispose()

    return run_async(build)


def session_url(server: LiveServer, world: SeatingWorld, lang: str = "") -> str:
    return server.url(f"/s/{world.tenant.slug}/sessions/{world.session_id}" + (f"?lang={lang}" if lang else ""))


def open_map(tabs: Callable[..., Tab], url: str, *, locale: str, viewport: tuple[int, int], **ctx: object) -> Tab:
    tab = tabs(locale=locale, viewport=viewport, **ctx)
    tab.goto(url)
    tab.page.wait_for_selector("[data-seatmap].is-ready")
    return tab


def seat(tab: Tab, seat_id: str):  # noqa: ANN201
    return tab.page.locator(f'[data-seat="{seat_id}"]')


def chosen(tab: Tab) -> list[str]:
    value = tab.page.locator("#seats-input").input_value()
    return [part.split(":")[0] for part in value.split(",") if part]


def fill_buyer(tab: Tab, name: str, phone: str) -> None:
    tab.page.locator("#f-buyer_name").fill(name)
    tab.page.locator("#f-buyer_phone").fill(phone)


@pytest.mark.parametrize("server_name", ["live_server", "pg_live_server"])
def test_pick_by_touch_on_a_phone_buy_and_a_second_browser_sees_them_sold(
    tabs, request: pytest.FixtureRequest, server_name: str
) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    server: LiveServer = request.getfixturevalue(server_name)
    # On PostgreSQL a third of the house kept back: past ``live.CHANGES_ABOVE`` taken, so the workers' views follow
    # the sale by reads of changes (``db.statements.written_since``), the path of a stadium filling up.
    third_rows = tuple((s, "3", str(n)) for s in "AB" for n in range(1, 11)) if server_name == "pg_live_server" else ()
    world = seated_session(server, blocked=third_rows)
    wheel, companion, a5 = world.seat("A", "1", "1"), world.seat("A", "1", "2"), world.seat("A", "1", "5")

    watcher = open_map(tabs, session_url(server, world), locale="en", viewport=DESKTOP)
    expect(seat(watcher, a5)).to_have_class(re.compile(r"\bst-free\b"))

    buyer = open_map(tabs, session_url(server, world), locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True)
    page = buyer.page
    buyer.shot("01-phone-zh-map")
    for seat_id in (wheel, companion, a5):
        seat(buyer, seat_id).tap()
    assert chosen(buyer) == [wheel, companion, a5]
    summary = page.locator("[data-summary-list]")
    expect(summary).to_contain_text("A区1排1座")
    expect(summary).to_contain_text("轮椅位")  # attributes repeated before payment
    expect(summary).to_contain_text("陪同座")
    expect(page.locator("[data-map-live]")).to_contain_text("A区1排5座")
    # Seat 5 as a student: ¥880 + ¥880 + ¥680.
    page.locator(".sel-seat", has_text="A区1排5座").locator("select").select_option(world.student_id)
    expect(page.locator("[data-total]")).to_have_text("¥2,440.00")
    seat(buyer, companion).tap()  # a second tap puts it back
    assert chosen(buyer) == [wheel, a5]
    expect(page.locator("[data-total]")).to_have_text("¥1,560.00")
    fill_buyer(buyer, "王小明", "139 1234 5678")
    page.locator("[data-map-frame]").scroll_into_view_if_needed()
    buyer.shot("02-phone-zh-chosen")
    page.get_by_role("button", name="提交订单").click()
    expect(page.get_by_role("heading", name="确认并支付")).to_be_visible()
    expect(page.locator(".sum-seats").first).to_contain_text("A区1排1座")  # adult; A区1排5座 is the student
    buyer.shot("03-phone-zh-order")

    # The other browser sees both seats sold without a reload; the one put back stays free.
    for seat_id in (wheel, a5):
        expect(seat(watcher, seat_id)).to_have_class(re.compile(r"\bst-taken\b"), timeout=SOLD_WITHIN_MS)
    expect(seat(watcher, companion)).to_have_class(re.compile(r"\bst-free\b"))
    watcher.shot("04-desktop-en-sold")
    assert buyer.errors == [] and watcher.errors == []


def test_pick_by_keyboard_and_buy(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    world = seated_session(live_server)
    tab = open_map(tabs, session_url(live_server, world), locale="en", viewport=DESKTOP)
    page = tab.page
    svg = page.locator("svg.seatmap-svg")
    svg.focus()
    page.keyboard.press("ArrowRight")
    live = page.locator("[data-map-live]")
    expect(live).to_have_text(re.compile(r"row \d+, seat \d+, ¥\d+–¥\d+, free$"))
    first = live.inner_text()
    page.keyboard.press("ArrowRight")
    expect(live).not_to_have_text(first)  # moved to the next seat along the row
    page.keyboard.press("Enter")
    expect(live).to_have_text(re.compile(r", selected$"))
    page.keyboard.press("ArrowDown")  # the seat behind it
    expect(live).to_have_text(re.compile(r", free$"))
    page.keyboard.press(" ")
    expect(live).to_have_text(re.compile(r", selected$"))
    assert len(chosen(tab)) == 2
    tab.shot("01-desktop-en-keyboard")

    # The list equivalent: section → row → seat as native selects; a seat already chosen is marked so.
    page.get_by_text("Choose from a list instead").click()
    page.get_by_label("Section", exact=True).select_option(label="B区")
    page.get_by_label("Row", exact=True).select_option(label="row 2")
    seat_select = page.get_by_label("Seat", exact=True)
    expect(seat_select.locator("option").nth(4)).to_have_text(re.compile(r"^seat 5 · ¥380–¥480 · restricted view"))
    seat_select.select_option(index=4)
    page.get_by_role("button", name="Add this seat").click()
    assert chosen(tab)[-1] == world.seat("B", "2", "5")
    expect(page.locator(".sel-seat").last).to_contain_text("restricted view (pillar)")
    expect(seat_select.locator("option").nth(4)).to_contain_text("selected")
    # One such seat: the page's singular form ("has"), not "1 of your seats have".
    limited = page.locator("[data-summary-limited]")
    expect(limited).to_have_text("1 of your seats has a restricted or partial view of the stage.")
    fill_buyer(tab, "Li Lei", "138 1234 5678")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", name="Review and pay")).to_be_visible()
    assert tab.errors == []


@pytest.mark.parametrize(
    ("locale", "said"),
    [("en", "You can choose at most 1 seat in one order."), ("zh-CN", "每笔订单最多可选1个座位。")],
)
def test_one_seat_per_order_is_said_in_the_singular(tabs, live_server: LiveServer, locale: str, said: str) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    world = seated_session(live_server, max_per_order=1)
    tab = open_map(tabs, session_url(live_server, world, lang=locale), locale=locale, viewport=DESKTOP)
    seat(tab, world.seat("A", "1", "5")).click()
    seat(tab, world.seat("A", "1", "6")).click()
    expect(tab.page.locator("[data-map-live]")).to_have_text(said)
    assert chosen(tab) == [world.seat("A", "1", "5")]
    tab.shot(f"01-desktop-{locale}-one-seat-limit")
    assert tab.errors == []


def test_best_available_preview_then_buy(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    world = seated_session(live_server)
    tab = open_map(tabs, session_url(live_server, world), locale="zh-CN", viewport=DESKTOP)
    page = tab.page
    page.locator("[data-best-qty]").fill("3")
    page.locator("[data-best-zone]").focus()
    page.locator("[data-best-zone]").select_option("B")
    page.get_by_role("button", name="推荐座位").click()
    result = page.locator("[data-best-result]")
    expect(result).to_contain_text("推荐：B区")
    expect(page.locator(".sm-preview")).to_have_count(3)  # shown on the map before anything is chosen
    assert chosen(tab) == []
    tab.shot("01-desktop-zh-best-preview")
    page.get_by_role("button", name="选这些座位").click()
    assert len(chosen(tab)) == 3
    expect(page.locator(".sm-preview")).to_have_count(0)
    expect(page.locator(".sel-seat")).to_have_count(3)
    picked = page.locator(".sel-label").all_inner_texts()
    assert all(label.startswith("B区") for label in picked), picked
    fill_buyer(tab, "韩梅梅", "137 1234 5678")
    tab.shot("02-desktop-zh-best-taken")
    page.get_by_role("button", name="提交订单").click()
    expect(page.get_by_role("heading", name="确认并支付")).to_be_visible()
    assert tab.errors == []


def test_best_available_without_a_block_asks_for_consent_to_split(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    world = seated_session(live_server, seats_per_row=4)  # rows of four: five together do not fit
    tab = open_map(tabs, session_url(live_server, world, lang="en"), locale="en", viewport=PHONE)
    page = tab.page
    page.locator("[data-best-qty]").fill("5")
    page.get_by_role("button", name="Find seats").click()
    expect(page.locator("[data-best-result]")).to_contain_text("not that many seats side by side")
    expect(page.locator(".sm-preview")).to_have_count(0)
    page.get_by_label("Seats may be split").check()
    page.get_by_role("button", name="Find seats").click()
    expect(page.locator(".sm-preview")).to_have_count(5)
    expect(page.locator("[data-best-result]")).to_contain_text("Suggested:")
    page.locator("svg.seatmap-svg").press("Escape")  # "no, thanks" from the keyboard
    expect(page.locator(".sm-preview")).to_have_count(0)
    assert chosen(tab) == []
    # The browser logs the refused preview's 409 itself; nothing else went wrong.
    assert [e for e in tab.errors if "409 (Conflict)" not in e] == []


def test_best_available_gives_a_restricted_view_only_when_ticked_and_the_summary_says_so(
    tabs,  # noqa: ANN001
    live_server: LiveServer,
) -> None:
    from playwright.sync_api import expect

    # Section B (rows of four) is behind pillars but for two seats: three together need a restricted view.
    pillars = {("B", str(r), str(n)): {"restricted_view"} for r in range(1, 4) for n in range(1, 5)}
    del pillars[("B", "3", "1")], pillars[("B", "3", "2")]
    world = seated_session(live_server, seats_per_row=4, more_attributes=pillars)
    tab = open_map(tabs, session_url(live_server, world, lang="en"), locale="en", viewport=PHONE)
    page = tab.page
    page.locator("[data-best-qty]").fill("3")
    page.locator("[data-best-zone]").focus()
    page.locator("[data-best-zone]").select_option("B")
    page.get_by_role("button", name="Find seats").click()
    expect(page.locator("[data-best-result]")).to_contain_text("Only seats with a restricted or partial view")
    expect(page.locator(".sm-preview")).to_have_count(0)
    page.get_by_label("A restricted view is OK").check()
    page.get_by_role("button", name="Find seats").click()
    expect(page.locator(".sm-preview")).to_have_count(3)
    expect(page.locator("[data-best-result]")).to_contain_text("restricted view (pillar)")
    page.get_by_role("button", name="Take these seats").click()
    assert len(chosen(tab)) == 3
    note = page.locator("[data-summary-limited]")
    expect(note).to_be_visible()
    # Two clear seats and one behind a pillar: the singular ("1 of your seats has"), not "1 … have".
    expect(note).to_have_text("1 of your seats has a restricted or partial view of the stage.")
    tab.shot("03-phone-en-best-restricted")
    # Two seats: the clear ones, and no note.
    page.locator("[data-best-qty]").fill("2")
    page.get_by_role("button", name="Find seats").click()
    expect(page.locator(".sm-preview")).to_have_count(2)
    expect(page.locator("[data-best-result]")).not_to_contain_text("pillar")
    assert [e for e in tab.errors if "409 (Conflict)" not in e] == []


def test_a_chosen_seat_taken_by_another_buyer_is_named_on_the_page(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    world = seated_session(live_server)
    mine, theirs = world.seat("A", "2", "4"), world.seat("A", "2", "3")
    tab = open_map(
        tabs, session_url(live_server, world), locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True
    )
    seat(tab, mine).tap()
    seat(tab, theirs).tap()
    assert chosen(tab) == [mine, theirs]

    # Another buyer takes A区2排3座 through the shop API.
    order = {
        "items": [{"product": "seat", "selection": {"ticket_type_id": world.adult_id, "seats": [theirs]}}],
        "buyer": {"name": "张三", "phone": "13812345678"},
    }
    r = httpx.post(live_server.url(f"/api/v1/shop/{world.tenant.slug}/orders"), json=order, timeout=10)
    assert r.status_code == 201, r.text

    alert = tab.page.locator("[data-map-alert]")
    expect(alert).to_contain_text("A区2排3座 刚刚被其他观众选走", timeout=SOLD_WITHIN_MS)
    assert chosen(tab) == [mine]
    expect(seat(tab, theirs)).to_have_class(re.compile(r"\bst-taken\b"))
    expect(tab.page.locator(".sel-seat")).to_have_count(1)
    alert.scroll_into_view_if_needed()
    tab.shot("01-phone-zh-seat-taken")
    assert tab.errors == []


def test_a_seat_sold_before_the_map_knew_is_named_by_the_server_and_the_rest_kept(
    tabs, live_server: LiveServer
) -> None:  # noqa: ANN001
    """The map has not heard yet (its availability requests are held back here) when the buyer places the order:
    the server refuses it with seat_taken, the page names the seat inline, and the map comes back with the other
    seats still chosen and the refused one dropped."""
    from playwright.sync_api import expect

    world = seated_session(live_server)
    mine, theirs = world.seat("B", "1", "4"), world.seat("B", "1", "5")
    tab = open_map(tabs, session_url(live_server, world), locale="zh-CN", viewport=DESKTOP)
    page = tab.page
    page.route("**/seat-availability*", lambda route: route.abort())
    seat(tab, mine).click()
    seat(tab, theirs).click()
    order = {
        "items": [{"product": "seat", "selection": {"ticket_type_id": world.student_id, "seats": [theirs]}}],
        "buyer": {"name": "张三", "phone": "13812345678"},
    }
    r = httpx.post(live_server.url(f"/api/v1/shop/{world.tenant.slug}/orders"), json=order, timeout=10)
    assert r.status_code == 201, r.text
    fill_buyer(tab, "王小明", "139 1234 5678")
    page.get_by_role("button", name="提交订单").click()

    expect(page.locator("#tickets-error")).to_contain_text("以下座位刚刚被其他观众选走：B区1排5座")
    page.wait_for_selector("[data-seatmap].is-ready")
    assert chosen(tab) == [mine]  # the rest of the choice survives the refusal
    expect(seat(tab, theirs)).to_have_class(re.compile(r"\bst-taken\b"))  # before any availability answer
    expect(page.locator(".sel-seat")).to_have_count(1)
    expect(page.locator("#f-buyer_name")).to_have_value("王小明")
    tab.shot("01-desktop-zh-server-seat-taken")
    page.get_by_role("button", name="提交订单").click()  # and the rest can be bought at once
    expect(page.get_by_role("heading", name="确认并支付")).to_be_visible()
    expect(page.locator(".sum-seats")).to_contain_text("B区1排4座")
    assert [e for e in tab.errors if "409 (Conflict)" not in e and "ERR_FAILED" not in e] == []


@pytest.mark.parametrize(("locale", "viewport"), [("en", PHONE), ("zh-CN", DESKTOP)])
def test_screenshots_in_both_languages(tabs, live_server: LiveServer, locale: str, viewport: tuple[int, int]) -> None:  # noqa: ANN001
    """The other two of the four combinations (phone en, desktop zh-CN) with a choice and a filter in place."""
    from playwright.sync_api import expect

    world = seated_session(live_server)
    mobile = {"is_mobile": True, "has_touch": True} if viewport == PHONE else {}
    tab = open_map(tabs, session_url(live_server, world), locale=locale, viewport=viewport, **mobile)
    page = tab.page
    page.locator("[data-map-filter]").select_option("88000")  # only zone A's price
    expect(seat(tab, world.seat("B", "1", "1"))).to_have_class(re.compile(r"\bst-dim\b"))
    for key in (("A", "1", "1"), ("A", "2", "6"), ("A", "2", "7")):
        seat(tab, world.seat(*key)).click()
    assert len(chosen(tab)) == 3
    tab.shot(f"{locale}-{viewport[0]}x{viewport[1]}")
    assert tab.errors == []


# ---- a big house: 40,500 seats in 9 sections, fetched section by section ------------------------------------


@pytest.fixture(scope="module")
def big_house(live_server: LiveServer) -> SeatingWorld:
    """One grid house for the tests below (each buys other seats): 3 × 3 sections of 60 rows × 75 seats, the
    columns 2,000 units apart (a wide gangway: a seat-level view of one column does not reach the next)."""
    return seated_session(live_server, seat_map=grid_map())


def open_tracked(tabs: Callable[..., Tab], url: str, **ctx: object) -> tuple[Tab, list[str]]:
    """A tab on ``url`` and the list of every URL it asked for, from the first."""
    tab = tabs(**ctx)
    asked: list[str] = []
    tab.page.on("request", lambda r: asked.append(r.url))
    tab.goto(url)
    tab.page.wait_for_selector("[data-seatmap].is-ready")
    return tab, asked


def section_urls(asked: list[str]) -> list[str]:
    return [u for u in asked if "/seat-map/sections/" in u]


def section_url_of(tab: Tab, section: str) -> str:
    """The absolute URL of a section's seats, as the map answer names it."""
    return tab.page.evaluate(
        f"() => new URL(document.querySelector('[data-seatmap]').seatPicker.sections['{section}'].url, location).href"
    )


def test_a_big_house_opens_on_sections_fetches_a_sections_seats_when_zoomed_in_and_sells_them(
    tabs,  # noqa: ANN001
    live_server: LiveServer,
    big_house: SeatingWorld,
) -> None:
    """On a phone: the map answer only (nine outlines, no seat) at first; a pinch fetches the sections in view and
    no others, taps zoom to seat size and choose a seat, and the seat is bought."""
    from playwright.sync_api import expect

    world = big_house
    tab, asked = open_tracked(
        tabs, session_url(live_server, world), locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True
    )
    page = tab.page
    root = page.locator("[data-seatmap]")
    expect(root).to_have_attribute("data-level", "sections")
    expect(page.locator(".sm-sections .sm-section")).to_have_count(9)
    assert page.locator(".sm-seat").count() == 0
    page.wait_for_timeout(300)  # nothing else is on its way
    assert [u for u in asked if "/seat-map" in u] == [
        live_server.url(f"/api/v1/shop/{world.tenant.slug}/sessions/{world.session_id}/seat-map")
    ]
    assert root.get_attribute("data-sections-loaded") is None
    stage = page.locator(".sm-stage-box").bounding_box()
    assert stage is not None and stage["height"] >= 10, stage  # drawn at a seat's height it was ~2 px here
    tab.shot("01-phone-zh-big-house-sections")
    frame = page.locator("[data-map-frame]")
    frame.scroll_into_view_if_needed()
    box = frame.bounding_box()
    assert box is not None
    # Pinch: two touch pointers moving apart zoom in about their midpoint (Playwright has no multi-touch, so the
    # pointer events are dispatched as a touch screen sends them).
    scale = "() => document.querySelector('[data-seatmap]').seatPicker.view.s"
    before = page.evaluate(scale)
    page.evaluate(
        """([x, y]) => {
          const svg = document.querySelector('svg.seatmap-svg');
          const send = (type, id, dx) => svg.dispatchEvent(new PointerEvent(type, {
            pointerId: id, pointerType: 'touch', isPrimary: id === 1, bubbles: true, clientX: x + dx, clientY: y }));
          send('pointerdown', 1, -20); send('pointerdown', 2, 20);
          for (let d = 20; d <= 100; d += 20) { send('pointermove', 1, -d); send('pointermove', 2, d); }
          send('pointerup', 1, -100); send('pointerup', 2, 100);
        }""",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.4],
    )
    assert page.evaluate(scale) == pytest.approx(before * 5, rel=0.01)
    expect(root).to_have_attribute("data-level", "paths")
    assert chosen(tab) == []  # a pinch is not a tap
    expect(root).to_have_attribute("data-sections-loaded", re.compile(r"^\d+$"))
    expect(page.locator(".sm-seats-path").first).to_be_attached()  # the seats in view, as paths
    fetched = section_urls(asked)
    assert 0 < len(fetched) < 9, fetched  # the sections in view, not the house
    for _ in range(3):  # each tap zooms in towards the place tapped, until seats are big enough to tap
        if root.get_attribute("data-level") == "seats":
            break
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.4)
        page.wait_for_timeout(150)
    expect(root).to_have_attribute("data-level", "seats")
    drawn = page.locator(".sm-seat")
    expect(drawn.first).to_be_attached()
    assert drawn.count() <= 4000  # the view and a margin, not the house
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.45)
    (seat_id,) = chosen(tab)
    expect(seat(tab, seat_id)).to_have_count(1)  # a seat drawn where the finger was
    section = page.evaluate(
        f"() => {{ const p = document.querySelector('[data-seatmap]').seatPicker; return p.sec[p.byId['{seat_id}']]; }}"
    )
    assert section_url_of(tab, section) in section_urls(asked)
    assert len(section_urls(asked)) < 9 and len(set(section_urls(asked))) == len(section_urls(asked))  # each once
    tab.shot("02-phone-zh-big-house-seat-level")
    fill_buyer(tab, "王小明", "139 1234 5678")
    page.get_by_role("button", name="提交订单").click()
    expect(page.get_by_role("heading", name="确认并支付")).to_be_visible()
    expect(page.locator(".sum-seats").first).to_contain_text(f"{section}区")
    assert tab.errors == []


def test_arrow_keys_cross_into_a_section_not_loaded_yet_and_buy_there(
    tabs,  # noqa: ANN001
    live_server: LiveServer,
    big_house: SeatingWorld,
) -> None:
    """On a desktop: A1's last seat of row 1 chosen from the list; → goes over the gangway to A2's first seat of
    row 1, whose section is fetched for it; ← comes back; both are bought."""
    from playwright.sync_api import expect

    world = big_house
    tab, asked = open_tracked(tabs, session_url(live_server, world), locale="en", viewport=DESKTOP)
    page = tab.page
    expect(page.locator("[data-seatmap]")).to_have_attribute("data-level", "sections")
    assert section_urls(asked) == []
    tab.shot("01-desktop-en-big-house-sections")
    page.get_by_text("Choose from a list instead").click()  # opened: its first section (A1) is fetched
    page.get_by_label("Section", exact=True).select_option(label="Section A1")
    page.get_by_label("Row", exact=True).select_option(label="row 1")
    page.get_by_label("Seat", exact=True).select_option(index=74)  # seat 75, the last on the right
    page.get_by_role("button", name="Add this seat").click()
    assert chosen(tab) == [world.seat("A1", "1", "75")]
    a2 = section_url_of(tab, "A2")
    assert section_url_of(tab, "A1") in section_urls(asked) and a2 not in section_urls(asked)

    live = page.locator("[data-map-live]")
    page.locator("svg.seatmap-svg").focus()
    page.keyboard.press("ArrowRight")
    expect(live).to_have_text(re.compile(r"^Section A2, row 1, seat 1, ¥680–¥880, free$"))
    assert a2 in section_urls(asked)
    page.keyboard.press("Enter")
    expect(live).to_have_text(re.compile(r"^Section A2, row 1, seat 1, .*selected$"))
    page.keyboard.press("ArrowLeft")
    expect(live).to_have_text(re.compile(r"^Section A1, row 1, seat 75, .*selected$"))
    assert chosen(tab) == [world.seat("A1", "1", "75"), world.seat("A2", "1", "1")]
    tab.shot("02-desktop-en-big-house-keyboard")
    fill_buyer(tab, "Li Lei", "138 1234 5678")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", name="Review and pay")).to_be_visible()
    expect(page.locator(".sum-seats")).to_contain_text("Section A1, row 1, seat 75")
    expect(page.locator(".sum-seats")).to_contain_text("Section A2, row 1, seat 1")
    assert tab.errors == []


def test_best_available_and_a_reload_fetch_the_sections_of_the_seats_they_show(
    tabs,  # noqa: ANN001
    live_server: LiveServer,
    big_house: SeatingWorld,
) -> None:
    """Best available's seats are drawn once their section has come (none was loaded before); taken, they survive a
    reload, which fetches their section again to show them."""
    from playwright.sync_api import expect

    url = session_url(live_server, big_house)
    tab, asked = open_tracked(tabs, url, locale="zh-CN", viewport=DESKTOP)
    page = tab.page
    assert section_urls(asked) == []
    page.locator("[data-best-qty]").fill("3")
    page.locator("[data-best-zone]").focus()
    page.locator("[data-best-zone]").select_option("B")
    page.get_by_role("button", name="推荐座位").click()
    expect(page.locator(".sm-preview")).to_have_count(3)
    expect(page.locator("[data-best-result]")).to_contain_text("推荐：B")
    fetched = section_urls(asked)
    assert 1 <= len(fetched) < 9
    page.get_by_role("button", name="选这些座位").click()
    picked = chosen(tab)
    assert len(picked) == 3
    labels = page.locator(".sel-label").all_inner_texts()
    page.reload()
    page.wait_for_selector("[data-seatmap].is-ready")
    expect(page.locator(".sel-seat")).to_have_count(3)  # restored, its section fetched again (or from the cache)
    assert chosen(tab) == picked and page.locator(".sel-label").all_inner_texts() == labels
    expect(page.locator(".sm-selected")).to_have_count(3)
    assert tab.errors == []


@pytest.mark.parametrize(("locale", "viewport"), [("en", PHONE), ("zh-CN", DESKTOP)])
def test_big_house_screenshots_in_both_languages(
    tabs,  # noqa: ANN001
    live_server: LiveServer,
    big_house: SeatingWorld,
    locale: str,
    viewport: tuple[int, int],
) -> None:
    """The other two combinations (phone en, desktop zh-CN): the sections, then zoomed in with the + button."""
    from playwright.sync_api import expect

    mobile = {"is_mobile": True, "has_touch": True} if viewport == PHONE else {}
    tab, asked = open_tracked(tabs, session_url(live_server, big_house), locale=locale, viewport=viewport, **mobile)
    page = tab.page
    root = page.locator("[data-seatmap]")
    expect(root).to_have_attribute("data-level", "sections")
    tab.shot(f"01-{locale}-{viewport[0]}x{viewport[1]}-sections")
    zoom_in = page.locator("[data-zoom=in]")
    for _ in range(8):
        if root.get_attribute("data-level") == "seats":
            break
        zoom_in.click()
    expect(root).to_have_attribute("data-level", "seats")
    expect(page.locator(".sm-seat").first).to_be_attached()
    # Fetched on the way in: a phone's view holds a few sections; a desktop's first "paths" views hold them all.
    assert section_urls(asked) and len(set(section_urls(asked))) == len(section_urls(asked))
    page.locator("[data-map-frame]").scroll_into_view_if_needed()
    tab.shot(f"02-{locale}-{viewport[0]}x{viewport[1]}-seats")
    assert tab.errors == []
