"""The front doors open in both languages, through a real server and a real browser, without console errors."""

from __future__ import annotations

import pytest

from tests.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# (browser locale, query string, expected <html lang>, a word the <title> must contain)
LANGUAGES = [
    pytest.param("zh-CN", "", "zh-CN", "票务", id="zh-CN"),  # chosen from the browser's Accept-Language
    pytest.param("zh-CN", "?lang=en", "en", "Piaowu", id="en"),  # ?lang= beats the browser's language
]


@pytest.mark.parametrize("path", ["/", "/manage/login"])
@pytest.mark.parametrize(("locale", "query", "html_lang", "title_word"), LANGUAGES)
def test_page_loads_in_both_languages(
    tabs, live_server: LiveServer, path: str, locale: str, query: str, html_lang: str, title_word: str
) -> None:  # noqa: ANN001
    tab = tabs(locale=locale)
    response = tab.goto(live_server.url(path + query))
    tab.shot(f"{path}-{html_lang}")

    assert response.status == 200, f"{path}{query} answered {response.status}"
    assert tab.page.locator("html").get_attribute("lang") == html_lang
    assert title_word in tab.page.title()
    assert tab.errors == []


# (page language, the demo concert's name it shows, the name it must not show, the scenic area's name, one of its
# ticket types). The concert sells seats (its page shows the seat map); the scenic area lists ticket types.
CATALOG_LANGUAGES = [
    pytest.param("?lang=en", "New Year Concert", "新年音乐会", "Jade Dragon Snow Mountain", "Adult", id="en"),
    pytest.param("?lang=zh-CN", "新年音乐会", "New Year Concert", "玉龙雪山景区", "成人票", id="zh-CN"),
]


@pytest.mark.parametrize(("query", "shown", "hidden", "scenic", "ticket_type"), CATALOG_LANGUAGES)
def test_the_demo_shop_shows_its_catalog_in_the_pages_language(
    tabs, live_server: LiveServer, query: str, shown: str, hidden: str, scenic: str, ticket_type: str
) -> None:  # noqa: ANN001
    tab = tabs(locale="zh-CN")
    assert tab.goto(live_server.url("/s/demo" + query)).status == 200
    tab.shot(f"shop-{query}")
    home = tab.page.locator("main").inner_text()
    assert shown in home and hidden not in home and scenic in home
    tab.page.get_by_role("heading", name=shown).locator("xpath=..").locator("a.session-row").first.click()
    tab.page.wait_for_load_state("load")
    tab.page.locator("[data-seatmap] svg").first.wait_for()  # the concert sells seats: its map
    tab.shot(f"session-{query}")
    session = tab.page.locator("main").inner_text()
    assert shown in session and hidden not in session
    tab.goto(live_server.url("/s/demo" + query))
    tab.page.get_by_role("heading", name=scenic).locator("xpath=..").locator("a.session-row").first.click()
    tab.page.wait_for_load_state("load")
    scenic_page = tab.page.locator("main").inner_text()
    assert scenic in scenic_page and ticket_type in scenic_page and hidden not in scenic_page
    assert tab.errors == []
