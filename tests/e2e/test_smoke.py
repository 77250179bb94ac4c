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


# (page language, the demo concert's name it shows, the name it must not show, a ticket type's name)
CATALOG_LANGUAGES = [
    pytest.param("?lang=en", "New Year Concert", "新年音乐会", "Adult", id="en"),
    pytest.param("?lang=zh-CN", "新年音乐会", "New Year Concert", "成人票", id="zh-CN"),
]


@pytest.mark.parametrize(("query", "shown", "hidden", "ticket_type"), CATALOG_LANGUAGES)
def test_the_demo_shop_shows_its_catalog_in_the_pages_language(
    tabs, live_server: LiveServer, query: str, shown: str, hidden: str, ticket_type: str
) -> None:  # noqa: ANN001
    tab = tabs(locale="zh-CN")
    assert tab.goto(live_server.url("/s/demo" + query)).status == 200
    tab.shot(f"shop-{query}")
    home = tab.page.locator("main").inner_text()
    assert shown in home and hidden not in home
    tab.page.get_by_role("heading", name=shown).locator("xpath=..").locator("a.session-row").first.click()
    tab.page.wait_for_load_state("load")
    tab.shot(f"session-{query}")
    session = tab.page.locator("main").inner_text()
    assert shown in session and ticket_type in session and hidden not in session
    assert tab.errors == []
