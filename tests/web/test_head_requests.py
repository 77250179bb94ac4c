"""HEAD is answered like GET without a body, on every page, the API, static files and /healthz: what uptime
monitors, load balancers and link checkers send (FastAPI's routes answered 405, /healthz 404)."""

from __future__ import annotations

import httpx
import pytest

from piaowu.runtime import Runtime
from tests.conftest import Tenant
from tests.tenant_world import World, build_world
from tests.web.test_security_headers import signed_in_page_urls

# Headers that differ between two answers of the same page for reasons of their own.
PER_ANSWER = {"date", "set-cookie", "content-length", "etag"}


@pytest.fixture
async def world(runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant) -> World:
    return await build_world(runtime, client, tenant)


def compare(get: httpx.Response, head: httpx.Response) -> list[str]:
    where = f"HEAD {get.request.url.path}"
    out: list[str] = []
    if head.status_code != get.status_code:
        out.append(f"{where}: {head.status_code}, GET {get.status_code}")
    if head.content:
        out.append(f"{where}: a body of {len(head.content)} bytes")
    for name in {*get.headers.keys(), *head.headers.keys()} - PER_ANSWER:
        if get.headers.get(name) != head.headers.get(name):
            out.append(f"{where}: {name} {head.headers.get(name)!r}, GET {get.headers.get(name)!r}")
    # A page's length may differ by its per-visitor form token; the API's and static files' may not.
    length = head.headers.get("content-length")
    if length is None and get.content:
        out.append(f"{where}: no content-length")
    return out


async def test_head_answers_every_page_like_get_without_a_body(
    runtime: Runtime, client: httpx.AsyncClient, world: World
) -> None:
    problems: list[str] = []
    for url in await signed_in_page_urls(runtime, client, world):
        problems += compare(await client.get(url), await client.head(url))
    assert not problems, "\n".join(problems)


async def test_head_on_the_api_static_files_and_healthz(client: httpx.AsyncClient, world: World) -> None:
    problems: list[str] = []
    for url, headers in [
        ("/healthz", {}),
        ("/static/app.css", {}),
        ("/api/v1/orders", world.auth),
        ("/api/v1/orders", {}),  # 401, the same problem's head
        (f"/api/v1/orders/{world.paid_order_id}", world.auth),
        ("/api/v1/openapi.json", {}),
    ]:
        get, head = await client.get(url, headers=headers), await client.head(url, headers=headers)
        problems += compare(get, head)
        if head.headers.get("content-length") != get.headers.get("content-length"):
            problems.append(f"HEAD {url}: content-length {head.headers.get('content-length')}, GET {len(get.content)}")
    assert not problems, "\n".join(problems)
    assert (await client.head("/healthz")).status_code == 200


async def test_head_on_a_route_without_get_is_refused_as_get_is(client: httpx.AsyncClient, world: World) -> None:
    url = f"/s/{world.tenant.slug}/orders/{world.paid_order_code}/pay"  # a button's POST only
    get, head = await client.get(url), await client.head(url)
    assert get.status_code == head.status_code == 405 and not head.content
