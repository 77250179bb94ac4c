"""A refund the payment provider refused, on the order page in a real browser (chromium): its state and the
provider's answer in zh-CN and en and the reconciliation's open item (screenshots in test-artifacts/), then
*Retry refund* pressed once the provider pays again, and the refund paid out. The real server in a subprocess
does the rest: its outbox asks the sandbox gateway, which refuses while its books say the trade was refunded."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select, update

from piaowu.config import Settings
from piaowu.demo import DEMO_LOGINS
from piaowu.payments.models import Payment, SandboxTransaction
from piaowu.runtime import build_runtime
from tests.servers import LiveServer, run_async
from tests.web.helpers import csrf_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def until(check: Callable[[], object], what: str, timeout: float = 15) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def gateway_books(server: LiveServer, order_id: str, refunded: bool) -> None:
    """The sandbox gateway's own ledger (an external system's state): the order's trade marked refunded in full
    already (as if the merchant had paid it back elsewhere: the gateway refuses any further refund), or not."""

    async def set_refunded() -> None:
        rt = build_runtime(Settings(**{k.removeprefix("PIAOWU_").lower(): v for k, v in server.env.items()}))
        try:
            async with rt.uow() as uow:
                trade = select(Payment.provider_ref).where(Payment.order_id == order_id).scalar_subquery()
                await uow.session.execute(
                    update(SandboxTransaction)
                    .where(SandboxTransaction.trade_no == trade)
                    .values(refunded_minor=SandboxTransaction.amount_minor if refunded else 0)
                )
                await uow.commit()
        finally:
            await rt.db.dispose()

    run_async(set_refunded)


def test_a_refused_refund_is_shown_and_retried_on_the_order_page(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    api = httpx.Client(
        base_url=live_server.base_url, headers={"Authorization": f"Bearer {live_server.demo_token}"}, timeout=10
    )
    events = api.get("/api/v1/events").json()["items"]
    tt = next(s["ticket_types"][0]["id"] for e in events for s in e["sessions"] if s["sale_state"] == "on_sale")
    order = api.post(
        "/api/v1/orders",
        json={"items": [{"ticket_type_id": tt, "quantity": 2}], "buyer": {"name": "退款重试", "phone": "13912345670"}},
    ).json()
    start = api.post(f"/api/v1/orders/{order['id']}/payments", json={}).json()
    with httpx.Client(base_url=live_server.base_url, timeout=10) as buyer:  # the buyer pays on the gateway's page
        page = buyer.get(start["redirect_url"])
        assert buyer.post(start["redirect_url"] + "/confirm", data={"csrf": csrf_of(page.text)}).status_code < 400
    until(lambda: api.get(f"/api/v1/orders/{order['id']}/status").json()["status"] == "paid", "the payment")
    gateway_books(live_server, order["id"], refunded=True)  # the gateway now refuses refunds on this trade
    line = order["lines"][0]["id"]
    assert api.post(f"/api/v1/orders/{order['id']}/refunds", json={"line_ids": [line]}).status_code == 200

    def refund() -> dict:
        return api.get(f"/api/v1/orders/{order['id']}/refunds").json()[0]

    until(lambda: refund()["status"] == "failed", "the refusal")

    owner = next(x for x in DEMO_LOGINS if x.role == "owner")
    tab = tabs(locale="zh-CN")
    tab.sign_in(live_server.url("/manage/login"), owner.email, owner.password)
    p = tab.page
    p.goto(live_server.url(f"/manage/orders/{order['id']}?lang=zh-CN"))
    card = p.locator("#refunds")
    expect(card).to_contain_text("渠道拒绝退款")
    expect(card).to_contain_text("refund exceeds the amount paid")
    card.scroll_into_view_if_needed()
    tab.shot("01-zh-refused-refund")
    p.goto(live_server.url(f"/manage/orders/{order['id']}?lang=en"))
    expect(card).to_contain_text("Refused by the provider")
    tab.shot("02-en-refused-refund")
    p.goto(live_server.url("/manage/payments/reconciliation?lang=en&show=open"))
    p.get_by_role("button", name="Reconcile now").click()
    expect(p.get_by_role("link", name="See the refunds").first).to_be_visible()
    expect(p.get_by_role("button", name=re.compile("Retry refund of")).first).to_be_visible()
    tab.shot("03-en-reconciliation-open-refund")

    gateway_books(live_server, order["id"], refunded=False)  # the gateway's books are put right
    p.goto(live_server.url(f"/manage/orders/{order['id']}?lang=en"))
    card.get_by_role("button", name="Retry refund").click()
    expect(p.locator(".flash")).to_contain_text("asked for again from the payment provider")
    until(lambda: refund()["status"] == "succeeded", "the retried refund")
    p.reload()
    expect(card).to_contain_text("Paid out")
    expect(card.get_by_role("button", name="Retry refund")).to_have_count(0)
    tab.shot("04-en-paid-out")
    assert tab.errors == []
    api.close()
