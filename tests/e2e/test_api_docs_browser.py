"""The API reference in a real browser, as an integrator uses it: Swagger UI from this server (nothing from a
CDN, no console error under the page's CSP), *Authorize* with a token, *Try it out* on a staff route: 200."""

from __future__ import annotations

import re

import pytest

from piaowu import vendor
from piaowu.config import Settings
from tests.conftest import require_or_skip
from tests.servers import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_integrator_authorizes_and_tries_a_staff_route(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    require_or_skip(
        vendor.available(Settings().browser_packages_dir, "swagger-ui"),
        "the npm package swagger-ui-dist (npm ci --ignore-scripts)",
    )
    assert live_server.demo_token
    tab = tabs(locale="en")
    page = tab.page
    outside: list[str] = []
    page.on("request", lambda r: r.url.startswith(live_server.base_url) or outside.append(r.url))
    tab.goto(live_server.url("/api/v1/docs"))
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 50

    page.locator(".auth-wrapper button.authorize").click()
    page.locator(".modal-ux input").fill(live_server.demo_token)
    page.locator(".modal-ux button.authorize").click()
    page.locator(".modal-ux button.btn-done").click()

    op = page.locator("#operations-organizer-me_v1_organizer_get")
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    op.locator("button.execute").click()
    code = op.locator(".live-responses-table tbody .response-col_status").first
    expect(code).to_have_text(re.compile(r"^\s*200"))
    expect(op.locator(".live-responses-table")).to_contain_text("demo")
    tab.shot("api-docs-tried")
    assert outside == [], outside  # everything from this server
    assert tab.errors == []
