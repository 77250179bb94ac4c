"""The shop's micro-cache (core/microcache.py, shop_cache_seconds): what a buyer's page loads during a sale —
the availability JSON and the session page — is shared per process for at most 0.5 s. Changes show within that
bound (the test clock moves instead of sleeping), nothing leaks between shops or languages, and each visitor
still gets their own CSRF and form tokens, which are still enforced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from piaowu.catalog import session_service
from piaowu.catalog.schemas import SessionPatch
from piaowu.core.clock import FrozenClock
from piaowu.runtime import Runtime, build_runtime
from tests.conftest import Tenant, make_settings, make_tenant
from tests.factories import OnSale, on_sale_session, owner_actor, pending_order
from tests.web.helpers import hidden

TTL = 0.5
AFTER_TTL = timedelta(seconds=TTL)


@pytest.fixture
async def runtime(tmp_path: Path, db_url: str, clock: FrozenClock) -> AsyncIterator[Runtime]:
    rt = build_runtime(make_settings(tmp_path, db_url, shop_cache_seconds=TTL), clock=clock)
    yield rt
    await rt.db.dispose()


@pytest.fixture
async def sale(runtime: Runtime, tenant: Tenant) -> OnSale:
    actor = await owner_actor(runtime, tenant.owner_id)
    return await on_sale_session(runtime, actor, capacity=5, max_per_order=4)


def _avail(tenant: Tenant, sale: OnSale) -> str:
    return f"/api/v1/shop/{tenant.slug}/sessions/{sale.session_id}/availability"


def _page(tenant: Tenant, sale: OnSale) -> str:
    return f"/s/{tenant.slug}/sessions/{sale.session_id}"


async def test_a_change_is_visible_within_the_bound(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, sale: OnSale, clock: FrozenClock
) -> None:
    first = (await client.get(_avail(tenant, sale))).json()
    assert first["state"] == "on_sale" and first["buyable"] and first["left"] == 5
    assert first["ticket_types"] == [{"id": sale.ticket_type_id, "available": 5, "order_limit": 4}]
    assert "5 tickets left" in (await client.get(_page(tenant, sale), params={"lang": "en"})).text

    await pending_order(runtime, await owner_actor(runtime, tenant.owner_id), sale.ticket_type_id, qty=2)
    # Within the bound the shared answer may still be the old one (this is the cache at work) ...
    assert (await client.get(_avail(tenant, sale))).json()["left"] == 5
    clock.advance(AFTER_TTL - timedelta(milliseconds=1))
    assert (await client.get(_avail(tenant, sale))).json()["left"] == 5
    # ... and once it has passed, every answer has the change.
    clock.advance(timedelta(milliseconds=1))
    assert (await client.get(_avail(tenant, sale))).json()["left"] == 3
    assert "3 tickets left" in (await client.get(_page(tenant, sale), params={"lang": "en"})).text


async def test_a_sold_out_session_stops_being_offered_within_the_bound(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, sale: OnSale, clock: FrozenClock
) -> None:
    assert "buy-submit" in (await client.get(_page(tenant, sale))).text
    assert (await client.get(_avail(tenant, sale))).json()["buyable"] is True
    await pending_order(runtime, await owner_actor(runtime, tenant.owner_id), sale.ticket_type_id, qty=4)
    await pending_order(runtime, await owner_actor(runtime, tenant.owner_id), sale.ticket_type_id, qty=1)
    clock.advance(AFTER_TTL)
    av = (await client.get(_avail(tenant, sale))).json()
    assert (av["buyable"], av["left"], av["ticket_types"][0]["order_limit"]) == (False, 0, 0)
    assert av["state"] == "held_out"  # held by unpaid orders: they may come back
    page = (await client.get(_page(tenant, sale))).text
    assert "state-notice" in page and "buy-submit" not in page


async def test_a_paused_sale_shows_within_the_bound(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, sale: OnSale, clock: FrozenClock
) -> None:
    assert (await client.get(_avail(tenant, sale))).json()["state"] == "on_sale"
    async with runtime.uow() as uow:
        actor = await owner_actor(runtime, tenant.owner_id)
        await session_service.update_session(uow, actor, sale.session_id, SessionPatch(status="paused"))
        await uow.commit()
    clock.advance(AFTER_TTL)
    assert (await client.get(_avail(tenant, sale))).json()["state"] == "paused"


async def test_no_answer_crosses_shops(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, sale: OnSale
) -> None:
    other = await make_tenant(runtime, slug="other-venue")
    # Both answers are in the cache now; asking for this session through the other shop must still fail.
    assert (await client.get(_avail(tenant, sale))).status_code == 200
    assert (await client.get(_page(tenant, sale))).status_code == 200
    assert (await client.get(f"/api/v1/shop/{other.slug}/sessions/{sale.session_id}/availability")).status_code == 404
    assert (await client.get(f"/s/{other.slug}/sessions/{sale.session_id}")).status_code == 404


async def test_no_page_crosses_languages(client: httpx.AsyncClient, tenant: Tenant, sale: OnSale) -> None:
    zh = (await client.get(_page(tenant, sale))).text
    en = await client.get(_page(tenant, sale), params={"lang": "en"})
    assert 'lang="zh-CN"' in zh and "选择票种" in zh
    assert 'lang="en"' in en.text and "Choose your tickets" in en.text and "选择票种" not in en.text
    assert en.cookies.get("lang") == "en"  # the chosen language still sticks, cached page or not
    # The English page is now in the cache too; Chinese readers still get theirs.
    again = (await client.get(_page(tenant, sale), params={"lang": "zh-CN"})).text
    assert 'lang="zh-CN"' in again and "Choose your tickets" not in again


async def test_each_visitor_gets_own_tokens_and_csrf_is_enforced(app: object, tenant: Tenant, sale: OnSale) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as alice,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as bob,
    ):
        a1 = hidden((await alice.get(_page(tenant, sale))).text)
        a2 = hidden((await alice.get(_page(tenant, sale))).text)  # the shared page, from the cache
        b1 = hidden((await bob.get(_page(tenant, sale))).text)
        assert a1["csrf"] == a2["csrf"] != b1["csrf"]  # one CSRF token per browser session
        assert len({a1["form_token"], a2["form_token"], b1["form_token"]}) == 3  # one form token per page view
        assert "mark" not in a1["csrf"] + a1["form_token"]
        form = {f"qty_{sale.ticket_type_id}": "1", "buyer_name": "张三", "buyer_phone": "138 1234 5678"}
        refused = await bob.post(_page(tenant, sale), data={**form, "csrf": a1["csrf"], "form_token": b1["form_token"]})
        assert refused.status_code == 403
        done = await alice.post(_page(tenant, sale), data={**form, **a2})
        assert done.status_code == 303, done.text


class CacheSpy:
    """Counts how the session page used the shop cache: ``peek`` is the cached lane (``SharedSessionPages``),
    ``get`` the route (which reads and renders on a miss)."""

    def __init__(self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        cache = runtime.shop_cache
        peek, get = cache.peek, cache.get

        def spy_peek(key):  # noqa: ANN001, ANN202
            found = peek(key)
            if key[0] == "session-page":
                self.calls.append("hit" if found is not None else "miss")
            return found

        async def spy_get(key, compute):  # noqa: ANN001, ANN202
            if key[0] == "session-page":
                self.calls.append("route")
            return await get(key, compute)

        monkeypatch.setattr(cache, "peek", spy_peek)
        monkeypatch.setattr(cache, "get", spy_get)

    def took(self, *calls: str) -> None:
        assert self.calls == list(calls), self.calls
        self.calls.clear()


async def test_a_cached_page_is_answered_before_the_pages_routing(
    app: object, runtime: Runtime, tenant: Tenant, sale: OnSale, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain page already rendered for its shop, session and language is answered from the cache without the
    route (``web.shop.SharedSessionPages``), with the same headers, cookie and per-visitor tokens; a miss, once the
    bound has passed too, goes to the route, which reads and renders again."""
    spy = CacheSpy(runtime, monkeypatch)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as alice,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as bob,
    ):
        first = await alice.get(_page(tenant, sale))
        spy.took("miss", "route")
        second = await alice.get(_page(tenant, sale))
        third = await bob.get(_page(tenant, sale))
        spy.took("hit", "hit")
        for r in (first, second, third):
            assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
            assert r.headers["vary"] == "Cookie, Accept-Language" and r.headers["cache-control"] == "private, no-cache"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert r.headers["x-frame-options"] == "DENY" and "buy-submit" in r.text
        assert "set-cookie" in first.headers and "set-cookie" in third.headers  # each new visitor's session
        assert "set-cookie" not in second.headers  # alice's session is unchanged: not signed again
        a1, a2, b1 = hidden(first.text), hidden(second.text), hidden(third.text)
        assert a1["csrf"] == a2["csrf"] != b1["csrf"]
        assert len({a1["form_token"], a2["form_token"], b1["form_token"]}) == 3
        assert second.text.replace(a2["form_token"], "") == first.text.replace(a1["form_token"], "")
        form = {f"qty_{sale.ticket_type_id}": "1", "buyer_name": "张三", "buyer_phone": "138 1234 5678"}
        refused = await bob.post(_page(tenant, sale), data={**form, "csrf": a2["csrf"], "form_token": b1["form_token"]})
        assert refused.status_code == 403  # CSRF still enforced for a page served from the cache
        done = await bob.post(_page(tenant, sale), data={**form, **b1})
        assert done.status_code == 303, done.text
        spy.took()  # the buy form is never cached
        clock.advance(AFTER_TTL)
        assert "4 tickets left" in (await alice.get(_page(tenant, sale), params={"lang": "en"})).text
        spy.took("miss", "route")


async def test_what_the_cached_page_lane_passes_on(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: Tenant,
    sale: OnSale,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the plain page of a known session in the reader's language is answered from the cache: another
    query, another shop's slug, another language (by ``?lang=``, the ``lang`` cookie or Accept-Language) each
    have their own key or go to the route."""
    other = await make_tenant(runtime, slug="other-venue")
    spy = CacheSpy(runtime, monkeypatch)
    assert 'lang="zh-CN"' in (await client.get(_page(tenant, sale))).text
    spy.took("miss", "route")
    filtered = await client.get(_page(tenant, sale), params={"qty": "2"})
    assert filtered.status_code == 200
    spy.took()  # not the shared page: the route renders it for this query, without the cache
    crossed = await client.get(f"/s/{other.slug}/sessions/{sale.session_id}")
    assert crossed.status_code == 404
    spy.took("miss", "route")
    en = await client.get(_page(tenant, sale), headers={"Accept-Language": "en"})
    en_again = await client.get(_page(tenant, sale), headers={"Accept-Language": "en-GB,en;q=0.9"})
    spy.took("miss", "route", "hit")
    assert 'lang="en"' in en.text and 'lang="en"' in en_again.text and "选择票种" not in en_again.text
    by_query = await client.get(_page(tenant, sale), params={"lang": "en"})
    spy.took("hit")
    assert by_query.cookies.get("lang") == "en" and 'lang="en"' in by_query.text  # the choice sticks on a hit too
    by_cookie = await client.get(_page(tenant, sale))  # the lang cookie now says en
    zh = await client.get(_page(tenant, sale), params={"lang": "zh-CN"})
    spy.took("hit", "hit")
    assert 'lang="en"' in by_cookie.text and 'lang="zh-CN"' in zh.text and "Choose your tickets" not in zh.text
    head = await client.head(_page(tenant, sale))
    spy.took("hit")  # HEAD is the GET without its body (http_head.HeadAsGet): the cached page's head
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 1000
