"""Security headers on every answer, pages that work under their Content-Security-Policy, and URLs from clients
that can never lead elsewhere (issue 5: ``return_url: "javascript:…"`` shown as a link; open redirects)."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import update

from piaowu.models import load_all_models
from piaowu.payments.models import SandboxTransaction
from piaowu.runtime import Runtime
from tests.conftest import Tenant
from tests.tenant_world import World, build_world
from tests.web.helpers import csrf_of, login, sign_in

load_all_models()

PAGE_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
STYLE_ATTR = re.compile(r"<[^>]+\sstyle\s*=", re.I)
HANDLER_ATTR = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_TAG = re.compile(r"<style[\s>]", re.I)


@pytest.fixture
async def world(runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant) -> World:
    return await build_world(runtime, client, tenant)


async def _trade(client: httpx.AsyncClient, world: World, rt: Runtime, path: str) -> str:
    return_url = rt.settings.public_url.rstrip("/") + path
    r = await client.post(
        f"/api/v1/orders/{world.pending_order_id}/payments", json={"return_url": return_url}, headers=world.auth
    )
    assert r.status_code == 201, r.text
    return r.json()["redirect_url"].rsplit("/", 1)[-1]


def page_urls(w: World, trade_no: str) -> list[str]:
    """Every page a GET shows (web/: shop, back office, gate, sandbox gateway), with real ids."""
    slug = w.tenant.slug
    ids = {"event": w.event_id, "session": w.session_id, "tt": w.ticket_type_id, "order": w.paid_order_id}
    return [
        "/",
        f"/s/{slug}",
        f"/s/{slug}/sessions/{w.session_id}",
        f"/s/{slug}/orders/{w.paid_order_code}",
        f"/s/{slug}/lookup",
        "/manage",
        "/manage/staff",
        "/manage/tokens",
        "/manage/settings",
        "/manage/payments/reconciliation",
        "/manage/events",
        "/manage/events/new",
        f"/manage/events/{ids['event']}",
        f"/manage/events/{ids['event']}/edit",
        f"/manage/events/{ids['event']}/sessions/new",
        f"/manage/sessions/{ids['session']}",
        f"/manage/sessions/{ids['session']}/edit",
        f"/manage/sessions/{ids['session']}/ticket-types/new",
        f"/manage/sessions/{ids['session']}/ticket-types/{ids['tt']}/edit",
        "/manage/orders",
        f"/manage/orders/{ids['order']}",
        "/manage/sell",
        "/gate",
        f"/sandbox-gateway/pay/{trade_no}",
        "/no-such-page",
    ]


async def signed_in_page_urls(runtime: Runtime, client: httpx.AsyncClient, world: World) -> list[str]:
    """``page_urls`` with a real trade, ``client`` signed in as the owner (the back office's pages open)."""
    trade_no = await _trade(client, world, runtime, "/s/x")
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    return page_urls(world, trade_no)


def check_headers(r: httpx.Response, csp_part: str) -> list[str]:
    where = f"{r.request.method} {r.request.url.path} ({r.status_code})"
    out = [f"{where}: {k} is {r.headers.get(k)!r}" for k, v in PAGE_HEADERS.items() if r.headers.get(k) != v]
    csp = r.headers.get("content-security-policy", "")
    if csp_part not in csp or "frame-ancestors 'none'" not in csp:
        out.append(f"{where}: content-security-policy {csp!r}")
    if "camera=(self)" not in r.headers.get("permissions-policy", ""):
        out.append(f"{where}: permissions-policy {r.headers.get('permissions-policy')!r}")
    return out


async def test_every_page_sends_the_security_headers_and_needs_no_inline_code(
    runtime: Runtime, client: httpx.AsyncClient, world: World
) -> None:
    problems: list[str] = []
    for url in await signed_in_page_urls(runtime, client, world):
        r = await client.get(url)
        if r.status_code not in (200, 303, 404):  # 303: the shop asks who is looking at an order
            problems.append(f"{url}: {r.status_code}")
        problems += check_headers(r, "script-src 'self'")
        html = r.text
        for name, pattern in (("inline script", INLINE_SCRIPT), ("style attribute", STYLE_ATTR),
                              ("event-handler attribute", HANDLER_ATTR), ("style element", STYLE_TAG)):  # fmt: skip
            problems += [f"{url}: {name} {m.group(0)[:80]!r} (refused by the CSP)" for m in pattern.finditer(html)]
        csp = r.headers.get("content-security-policy", "")
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, csp
    assert not problems, "\n".join(problems)


async def test_api_static_redirects_and_refusals_carry_the_headers_too(client: httpx.AsyncClient, world: World):
    answers = [
        await client.get("/api/v1/orders"),  # 401
        await client.get("/api/v1/orders", headers=world.auth),
        await client.get("/api/v1/orders/ab%00cd", headers=world.auth),  # the request guard's 422
        await client.get("/static/app.css"),
        await client.get("/manage/events"),  # 303 to the sign-in page
        await client.get("/healthz"),
    ]
    problems: list[str] = []
    for r in answers:
        part = "default-src 'none'" if r.request.url.path.startswith("/api/") else "default-src 'self'"
        problems += check_headers(r, part)
    assert not problems, "\n".join(problems)


async def test_a_stored_javascript_return_url_never_becomes_a_link_or_a_redirect(
    runtime: Runtime, client: httpx.AsyncClient, world: World
) -> None:
    """Return URLs are checked when a payment starts (tests/api/test_bad_input.py); a trade stored before that
    (or written by a real gateway's page of its own) is still shown without the link."""
    trade_no = await _trade(client, world, runtime, "/s/back")
    async with runtime.uow() as uow:
        await uow.session.execute(
            update(SandboxTransaction)
            .where(SandboxTransaction.trade_no == trade_no)
            .values(return_url="javascript:alert(document.cookie)")
        )
        await uow.commit()
    page = await client.get(f"/sandbox-gateway/pay/{trade_no}")
    assert page.status_code == 200 and "javascript:" not in page.text
    confirm = await client.post(f"/sandbox-gateway/pay/{trade_no}/confirm", data={"csrf": csrf_of(page.text)})
    assert confirm.status_code == 200 and "location" not in confirm.headers
    assert "javascript:" not in confirm.text


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/\t/evil.example/",
        "/\n/evil.example",
        "javascript:alert(1)",
    ],  # fmt: skip
)
async def test_sign_in_never_redirects_off_the_site(client: httpx.AsyncClient, tenant: Tenant, target: str) -> None:
    r = await login(client, tenant.owner_email, tenant.password, next_url=target)
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/") and not location.startswith("//") and "evil" not in location, location
    assert "\t" not in location and "\\" not in location


async def test_sign_in_keeps_a_local_next_path(client: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await login(client, tenant.owner_email, tenant.password, next_url="/manage/orders?status=paid")
    assert r.status_code == 303 and r.headers["location"] == "/manage/orders?status=paid"


def test_no_template_carries_code_the_csp_refuses() -> None:
    """The page walk above renders the pages a fresh world shows; partials that appear only in some states (a
    cancelled session's progress, a failed refund) are read here, from the templates themselves."""
    from piaowu.web.templating import TEMPLATES_DIR

    problems = []
    for path in sorted(TEMPLATES_DIR.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        for name, pattern in (("inline script", INLINE_SCRIPT), ("style attribute", STYLE_ATTR),
                              ("event-handler attribute", HANDLER_ATTR), ("style element", STYLE_TAG)):  # fmt: skip
            rel = path.relative_to(TEMPLATES_DIR)
            problems += [f"{rel}: {name} {m.group(0)[:80]!r} (refused by the CSP)" for m in pattern.finditer(source)]
    assert not problems, "\n".join(problems)


async def _bilingual(client: httpx.AsyncClient, world: World) -> None:
    """The world's event, session and ticket type named in both languages, so that an answer printing a name
    differs between readers."""
    for path in (f"/events/{world.event_id}", f"/sessions/{world.session_id}", f"/ticket-types/{world.ticket_type_id}"):
        names = {"zh-CN": f"中文名 {path}", "en": f"English name {path}"}
        r = await client.patch(f"/api/v1{path}", json={"name_i18n": names}, headers=world.auth)
        assert r.status_code == 200, r.text


def _varies_with_language(r: httpx.Response) -> bool:
    return "accept-language" in [v.strip().lower() for v in r.headers.get("vary", "").split(",")]


async def test_every_answer_that_differs_by_accept_language_says_vary(
    runtime: Runtime, app, client: httpx.AsyncClient, world: World
) -> None:
    """Every GET of the API and the pages, read as an English and as a Chinese reader (signed in: the owner's
    session for pages, the owner's token for the API): an answer whose body differs between the two must say
    ``Vary: Accept-Language``, or a shared or browser cache may hand one reader's language to the other. An
    answer that differs between two reads in the same language (a fresh CSRF token, a time) cannot tell; every
    page says it anyway. Pages also say how they may be cached: staff areas ``no-store``, the rest ``private``."""
    from piaowu.routes import all_routes
    from tests.factories import staff_member
    from tests.tenant_world import path_values

    await _bilingual(client, world)
    await sign_in(client, world.tenant.owner_email, world.tenant.password)
    member = await staff_member(runtime, world.tenant.organizer_id, "gate", "vary@walk.example.com")
    gets = [r.path for r in all_routes(app.routes) if r.method == "GET" and "/logout" not in r.path]
    problems: list[str] = []
    differed = 0
    for path in gets:
        url = path.format(**path_values(world, path, member.id))
        auth = world.auth if path.startswith("/api/") else {}

        async def read(lang: str, url: str = url, auth: dict[str, str] = auth) -> httpx.Response:
            return await client.get(url, headers={**auth, "Accept-Language": lang})

        en, en_again, zh = await read("en"), await read("en"), await read("zh-CN")
        where = f"GET {path} ({en.status_code})"
        if en.status_code >= 500 or zh.status_code >= 500:
            problems.append(f"{where}: {en.status_code} / {zh.status_code}")
            continue
        if en.content == en_again.content and en.content != zh.content:
            differed += 1
            if not (_varies_with_language(en) and _varies_with_language(zh)):
                problems.append(f"{where}: differs by language, Vary is {en.headers.get('vary')!r}")
        if en.headers.get("content-type", "").startswith("text/html") and not path.startswith("/api/"):
            cache = en.headers.get("cache-control", "")
            staff = path.startswith(("/manage", "/gate"))
            if not _varies_with_language(en):
                problems.append(f"{where}: a page without Vary: Accept-Language ({en.headers.get('vary')!r})")
            if (staff and "no-store" not in cache) or (not staff and "private" not in cache):
                problems.append(f"{where}: Cache-Control {cache!r}")
    assert not problems, "\n".join(problems)
    assert len(gets) > 50 and differed > 20, (len(gets), differed)  # the walk read the app and met names


async def test_answers_the_same_for_every_reader_do_not_vary(client: httpx.AsyncClient, world: World) -> None:
    """What a sale polls has no texts and sets its own Cache-Control: one cached copy per URL serves everyone.
    Static files say nothing of language either."""
    base = f"/api/v1/shop/{world.tenant.slug}/sessions/{world.session_id}"
    for url in (f"{base}/availability", "/static/app.css"):
        en = await client.get(url, headers={"Accept-Language": "en"})
        zh = await client.get(url, headers={"Accept-Language": "zh-CN"})
        assert en.status_code == 200 and en.content == zh.content, url
        assert "vary" not in en.headers and "private" not in en.headers.get("cache-control", ""), url
    missing = await client.get(f"/api/v1/shop/{world.tenant.slug}/sessions/01nosuchsession00000000000/availability")
    assert missing.status_code == 404 and _varies_with_language(missing)  # an error is in the reader's language


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([], [(b"vary", b"Accept-Language")]),
        ([(b"vary", b"Cookie")], [(b"vary", b"Cookie, Accept-Language")]),
        ([(b"vary", b"cookie, accept-language")], [(b"vary", b"cookie, accept-language")]),
        ([(b"vary", b"*")], [(b"vary", b"*")]),
    ],
)
def test_a_vary_header_gains_the_name_once(before: list, after: list) -> None:
    from piaowu.headers import with_vary

    headers = list(before)
    with_vary(headers, b"Accept-Language")
    assert headers == after


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/manage", b"no-store"), ("/manage/orders", b"no-store"), ("/gate", b"no-store"), ("/gate/scan", b"no-store"),
     ("/gateway-news", b"private, no-cache"), ("/managers", b"private, no-cache"), ("/s/demo", b"private, no-cache"),
     ("/", b"private, no-cache")],
)  # fmt: skip
def test_staff_areas_are_never_stored(path: str, expected: bytes) -> None:
    from piaowu.headers import page_cache_control

    assert page_cache_control(path) == expected
