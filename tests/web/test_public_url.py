"""The URL the server is reached at (issue 5): the buyer's return from the gateway and the start-up check.

Without PIAOWU_PUBLIC_URL the shop sends the buyer back to the address the browser used (a server on another
port or address works as it is); with it (behind a proxy) that URL wins. At start-up a server whose public URL
leads elsewhere says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from piaowu.app import create_app, public_url_problem_online
from piaowu.payments.models import SandboxTransaction
from piaowu.runtime import Runtime, build_runtime
from tests.conftest import make_settings, make_tenant
from tests.factories import on_sale_session, owner_actor
from tests.web.helpers import hidden
from tests.web.test_shop_pages import buy


async def _runtime(tmp_path: Path, db_url: str, clock, public_url: str) -> Runtime:  # noqa: ANN001
    settings = make_settings(tmp_path, db_url, public_url=public_url, port=8103)
    return build_runtime(settings, clock=clock)


@pytest.fixture
async def plain_rt(tmp_path, db_url, clock) -> AsyncIterator[Runtime]:  # noqa: ANN001
    rt = await _runtime(tmp_path, db_url, clock, public_url="")
    yield rt
    await rt.db.dispose()


async def _return_url_of_a_shop_payment(rt: Runtime, base_url: str) -> str:
    tenant = await make_tenant(rt)
    sale = await on_sale_session(rt, await owner_actor(rt, tenant.owner_id), capacity=5)
    app = create_app(runtime=rt)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client:
        order_url = (await buy(client, tenant, sale, qty=1)).headers["location"]
        csrf = hidden((await client.get(order_url)).text)["csrf"]
        gateway_url = (await client.post(f"{order_url}/pay", data={"csrf": csrf})).headers["location"]
        gw = await client.get(gateway_url)
        back = await client.post(f"{gateway_url}/confirm", data={"csrf": hidden(gw.text)["csrf"]})
    assert back.status_code == 303
    async with rt.uow(readonly=True) as uow:
        trade = await uow.session.get(SandboxTransaction, gateway_url.rsplit("/", 1)[-1])
    assert back.headers["location"].startswith(trade.return_url)
    assert trade.notify_url.startswith(rt.settings.public_url + "/api/v1/payments/notify/")
    return trade.return_url


async def test_the_buyer_returns_to_the_address_the_browser_used(plain_rt: Runtime) -> None:
    url = await _return_url_of_a_shop_payment(plain_rt, "http://192.168.1.20:8103")
    assert url.startswith("http://192.168.1.20:8103/s/demo-theatre/orders/")
    assert plain_rt.settings.public_url == "http://127.0.0.1:8103"  # callbacks: the port it serves on


async def test_a_configured_public_url_wins(tmp_path, db_url, clock) -> None:  # noqa: ANN001
    rt = await _runtime(tmp_path, db_url, clock, public_url="https://piao.example.cn/")
    try:
        url = await _return_url_of_a_shop_payment(rt, "http://10.0.0.5:8103")
    finally:
        await rt.db.dispose()
    assert url.startswith("https://piao.example.cn/s/demo-theatre/orders/")


async def test_the_start_up_check_tells_this_server_from_another(tmp_path, db_url, clock) -> None:  # noqa: ANN001
    here = await _runtime(tmp_path, db_url, clock, public_url="http://piao.test")
    other_settings = make_settings(tmp_path, db_url, public_url="http://piao.test", secret_key="another-install")
    other = build_runtime(other_settings, clock=clock, db=here.db)
    try:
        for target, expected_ok in ((here, True), (other, False)):
            transport = httpx.ASGITransport(app=create_app(runtime=target))
            async with httpx.AsyncClient(transport=transport) as client:
                problem = await public_url_problem_online(here, client)
            assert (problem is None) == expected_ok, problem

        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
            problem = await public_url_problem_online(here, client)
        assert problem is not None and "does not answer" in problem
    finally:
        await here.db.dispose()
