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
