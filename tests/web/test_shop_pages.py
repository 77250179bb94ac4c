"""The customer shop through HTTP: browse → choose → buy → pay on the sandbox gateway → tickets (QR + PDF);
inline errors with what was typed kept, sold out, lookup, one order per form, both languages."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import httpx
import pytest

from piaowu.catalog import session_service
from piaowu.catalog.schemas import SessionPatch
from piaowu.orders import service as orders
from piaowu.payments import sandbox_gateway as gw
from piaowu.runtime import Runtime
from tests.conftest import Tenant
from tests.factories import OnSale, on_sale_session, owner_actor
from tests.order_helpers import drain, wire_callbacks
from tests.ticket_fixtures import set_grants
from tests.web.helpers import hidden


@pytest.fixture
async def sale(runtime: Runtime, tenant: Tenant) -> OnSale:
    actor = await owner_actor(runtime, tenant.owner_id)
    return await on_sale_session(runtime, actor, capacity=50, max_per_order=4, second_type=True)


def buyer(**over: str) -> dict[str, str]:
    return {"buyer_name": "张三", "buyer_phone": "138 1234 5678", "buyer_email": "zhang@example.com", **over}


async def open_session(client: httpx.AsyncClient, tenant: Tenant, sale: OnSale) -> tuple[str, dict[str, str]]:
    url = f"/s/{tenant.slug}/sessions/{sale.session_id}"
    page = await client.get(url)
    assert page.status_code == 200, page.text
    return url, hidden(page.text)


async def buy(client: httpx.AsyncClient, tenant: Tenant, sale: OnSale, qty: int = 2, **fields: str) -> httpx.Response:
    url, tokens = await open_session(client, tenant, sale)
    data = {**tokens, f"qty_{sale.ticket_type_id}": str(qty), **buyer(**fields)}
    return await client.post(url, data=data)


async def order_count(rt: Runtime, tenant: Tenant) -> int:
    actor = await owner_actor(rt, tenant.owner_id)
    async with rt.uow(readonly=True) as uow:
        return len((await orders.list_orders(uow, actor)).items)


async def test_browse_choose_and_buy_leads_to_a_pending_order_with_pay_button(
    client: httpx.AsyncClient, tenant: Tenant, sale: OnSale
) -> None:
    home = await client.get("/")  # one organizer: its shop is the front page
    assert home.status_code == 200
    assert "测试音乐会 Test Concert" in home.text
    assert f"/s/{tenant.slug}/sessions/{sale.session_id}" in home.text
    assert "可购买" in home.text  # availability on every session
    assert "2026年6月8日 周一" in home.text  # 2026-06-08 10:00 Shanghai time (the session starts in 7 days)

    url, _ = await open_session(client, tenant, sale)
    page = (await client.get(url)).text
    assert "¥180.00" in page and "¥90.00" in page  # all-in prices of both ticket types
    assert "每单最多 4 张" in page  # purchase limits before buying
    assert 'max="4"' in page and 'min="0"' in page  # the no-JS number input is bounded

    r = await buy(client, tenant, sale, qty=2)
    assert r.status_code == 303, r.text
    order_url = r.headers["location"]
    assert order_url.startswith(f"/s/{tenant.slug}/orders/")
    page = await client.get(order_url)
    assert page.status_code == 200
    assert "待支付" in page.text or "剩余支付时间" in page.text
    assert "15:00" in page.text  # the countdown starts at the hold time
    assert "¥360.00" in page.text
    assert f"{order_url}/pay" in page.text and f"{order_url}/cancel" in page.text
    assert "138****5678" in page.text


async def test_bad_phone_is_shown_next_to_the_field_and_the_typed_values_stay(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, sale: OnSale
) -> None:
    r = await buy(client, tenant, sale, qty=3, buyer_phone="12345", buyer_name="李四")
    assert r.status_code == 422
    html = r.text
    assert 'id="f-buyer_phone-error"' in html
    assert "请输入有效的手机号码" in html
    assert re.search(r'id="f-buyer_phone"[^>]*value="12345"[^>]*aria-invalid="true"', html)
    assert 'aria-describedby="f-buyer_phone-error f-buyer_phone-hint"' in html
    assert 'value="李四"' in html and 'value="zhang@example.com"' in html
    assert f'name="qty_{sale.ticket_type_id}"' in html and 'value="3"' in html
    assert await order_count(runtime, tenant) == 0


async def test_a_name_with_a_direction_override_is_refused_with_its_reason(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, sale: OnSale
) -> None:
    r = await buy(client, tenant, sale, qty=1, buyer_name="张三\u202egpj.exe")
    assert r.status_code == 422
    assert 'id="f-buyer_name-error"' in r.text and "请删除控制字符和文字方向标记" in r.text
    assert await order_count(runtime, tenant) == 0


async def test_english_error_messages(client: httpx.AsyncClient, tenant: Tenant, sale: OnSale) -> None:
    await client.get(f"/s/{tenant.slug}?lang=en")
    r = await buy(client, tenant, sale, qty=1, buyer_phone="12345", buyer_email="not-an-email")
    assert r.status_code == 422
    assert "Enter a valid mobile number." in r.text
    assert "Enter a valid e-mail address" in r.text
    assert '<html lang="en">' in r.text


async def test_quantity_over_the_limit_is_refused_at_its_row(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, sale: OnSale
) -> None:
    r = await buy(client, tenant, sale, qty=5)
    assert r.status_code == 422
    assert f'id="qty-{sale.ticket_type_id}-error"' in r.text
    assert await order_count(runtime, tenant) == 0


async def test_sold_out_shows_an_inline_message_and_keeps_the_form(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=3, max_per_order=4)
    url, tokens = await open_session(client, tenant, sale)
    # Someone else takes two of the three tickets while this page is open.
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")  # noqa: SLF001
    async with other:
        r = await buy(other, tenant, sale, qty=2)
        assert r.status_code == 303
    r = await client.post(url, data={**tokens, f"qty_{sale.ticket_type_id}": "2", **buyer()})
    assert r.status_code == 409
    assert 'id="tickets-error"' in r.text
    assert "余票不足" in r.text
    assert 'value="张三"' in r.text
    assert "余 1 张" in r.text  # the numbers shown are fresh
    assert await order_count(runtime, tenant) == 1


async def test_a_session_that_is_sold_out_says_so_everywhere(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant
) -> None:
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=1, max_per_order=1)
    assert (await buy(client, tenant, sale, qty=1)).status_code == 303
    home = await client.get(f"/s/{tenant.slug}")
    assert "暂时无票" in home.text  # held by an unpaid order: may come back
    page = await client.get(f"/s/{tenant.slug}/sessions/{sale.session_id}")
    assert 'type="submit"' not in page.text  # nothing to buy
    assert "所有票目前都已被其他购票人锁定" in page.text


async def test_paused_and_not_yet_sessions_are_labelled(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, sale: OnSale
) -> None:
    actor = await owner_actor(runtime, tenant.owner_id)
    async with runtime.uow() as uow:
        await session_service.update_session(uow, actor, sale.session_id, SessionPatch(status="paused"))
        await uow.commit()
    home = await client.get(f"/s/{tenant.slug}")
    assert "暂停销售" in home.text
    async with runtime.uow() as uow:
        start = runtime.clock.now() + timedelta(days=1)
        await session_service.update_session(
            uow, actor, sale.session_id, SessionPatch(status="on_sale", sales_start=start)
        )
        await uow.commit()
    home = await client.get(f"/s/{tenant.slug}")
    assert "未开售" in home.text


async def test_the_same_form_submitted_twice_creates_one_order(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, sale: OnSale
) -> None:
    url, tokens = await open_session(client, tenant, sale)
    data = {**tokens, f"qty_{sale.ticket_type_id}": "1", **buyer()}
    first = await client.post(url, data=data)
    second = await client.post(url, data=data)  # a double click, or a reload that re-posts
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert await order_count(runtime, tenant) == 1
    fresh = hidden((await client.get(url)).text)  # a new visit of the page is a new form
    assert fresh["form_token"] != tokens["form_token"]
    assert (await client.post(url, data={**data, **fresh})).status_code == 303
    assert await order_count(runtime, tenant) == 2


async def test_lookup_gives_one_neutral_answer_for_wrong_code_or_contact(
    client: httpx.AsyncClient, app, tenant: Tenant, sale: OnSale
) -> None:  # noqa: ANN001
    order_url = (await buy(client, tenant, sale, qty=1)).headers["location"]
    code = order_url.rsplit("/", 1)[-1]
    stranger = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    async with stranger:
        assert (await stranger.get(order_url)).headers["location"] == f"/s/{tenant.slug}/lookup?code={code}"
        form = await stranger.get(f"/s/{tenant.slug}/lookup?code={code}")
        csrf = hidden(form.text)["csrf"]
        wrong_contact = await stranger.post(
            f"/s/{tenant.slug}/lookup", data={"csrf": csrf, "code": code, "contact": "13900000000"}
        )
        wrong_code = await stranger.post(
            f"/s/{tenant.slug}/lookup", data={"csrf": csrf, "code": "ZZZZ2222", "contact": "13812345678"}
        )
        assert wrong_contact.status_code == wrong_code.status_code == 404
        said = [re.search(r'id="lookup-error">.*?<p>(.+?)</p>', r.text, re.S) for r in (wrong_contact, wrong_code)]
        assert said[0] and said[1], "no error message next to the form"
        assert said[0].group(1) == said[1].group(1)  # nothing tells which of the two was wrong
        assert "订单" in said[0].group(1)
        assert f'value="{code}"' in wrong_contact.text  # what was typed stays
        right = await stranger.post(
            f"/s/{tenant.slug}/lookup", data={"csrf": csrf, "code": code.lower(), "contact": "zhang@example.com"}
        )
        assert right.status_code == 303 and right.headers["location"] == order_url
        assert (await stranger.get(order_url)).status_code == 200


async def test_pay_on_the_gateway_then_the_order_page_shows_qr_and_pdf(
    client: httpx.AsyncClient, app, runtime: Runtime, tenant: Tenant, sale: OnSale
) -> None:  # noqa: ANN001
    wire_callbacks(runtime, app)
    order_url = (await buy(client, tenant, sale, qty=2)).headers["location"]
    csrf = hidden((await client.get(order_url)).text)["csrf"]
    r = await client.post(f"{order_url}/pay", data={"csrf": csrf})
    assert r.status_code == 303
    gateway_url = r.headers["location"]
    assert gateway_url.startswith("/sandbox-gateway/pay/")

    gw = await client.get(gateway_url)
    assert gw.status_code == 200
    assert "Sandbox Pay" in gw.text and "沙箱支付" in gw.text and "¥360.00" in gw.text
    r = await client.post(f"{gateway_url}/confirm", data={"csrf": hidden(gw.text)["csrf"]})
    assert r.status_code == 303
    assert r.headers["location"] == f"http://testserver{order_url}?gateway_result=paid"
    assert await drain(runtime) >= 1  # the gateway's signed notification reaches the shop

    page = await client.get(f"{order_url}?gateway_result=paid")
    assert page.status_code == 200
    assert "支付成功" in page.text
    assert page.text.count('class="qr-svg"') == 2
    assert page.text.count("data-ticket-code=") == 2
    assert f"{order_url}/tickets.pdf" in page.text

    pdf = await client.get(f"{order_url}/tickets.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf.content)) == 2  # one page per ticket


async def test_a_pass_bought_in_the_shop_lists_what_it_admits_to(
    client: httpx.AsyncClient, app, runtime: Runtime, tenant: Tenant, sale: OnSale
) -> None:  # noqa: ANN001
    wire_callbacks(runtime, app)
    actor = await owner_actor(runtime, tenant.owner_id)
    museum = await on_sale_session(runtime, actor, name="博物馆 Museum")
    await set_grants(
        runtime, actor, sale.ticket_type_id, {"session_id": sale.session_id}, {"session_id": museum.session_id}
    )
    order_url = (await buy(client, tenant, sale, qty=1)).headers["location"]
    csrf = hidden((await client.get(order_url)).text)["csrf"]
    gateway_url = (await client.post(f"{order_url}/pay", data={"csrf": csrf})).headers["location"]
    gw = await client.get(gateway_url)
    await client.post(f"{gateway_url}/confirm", data={"csrf": hidden(gw.text)["csrf"]})
    await drain(runtime)
    page = (await client.get(f"{order_url}?gateway_result=paid")).text
    assert page.count('class="qr-svg"') == 1  # one QR code for the whole pass
    assert "本票包含的项目" in page and "博物馆 Museum · Evening · 已用 0 / 1 次" in page


async def test_a_late_notification_is_fetched_by_asking_the_gateway(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, sale: OnSale
) -> None:
    order_url = (await buy(client, tenant, sale, qty=1)).headers["location"]
    csrf = hidden((await client.get(order_url)).text)["csrf"]
    gateway_url = (await client.post(f"{order_url}/pay", data={"csrf": csrf})).headers["location"]
    gw = await client.get(gateway_url)
    await client.post(f"{gateway_url}/confirm", data={"csrf": hidden(gw.text)["csrf"]})
    # No drain: the notification has not arrived. The order page asks the gateway itself.
    page = await client.get(f"{order_url}?gateway_result=paid")
    assert "支付成功" in page.text and 'class="qr-svg"' in page.text


async def test_cancel_on_the_gateway_and_cancel_the_order(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, sale: OnSale
) -> None:
    order_url = (await buy(client, tenant, sale, qty=1)).headers["location"]
    csrf = hidden((await client.get(order_url)).text)["csrf"]
    gateway_url = (await client.post(f"{order_url}/pay", data={"csrf": csrf})).headers["location"]
    r = await client.post(f"{gateway_url}/cancel", data={"csrf": csrf})
    assert r.headers["location"].endswith("?gateway_result=cancelled")
    page = await client.get(f"{order_url}?gateway_result=cancelled")
    assert "支付已取消" in page.text and f"{order_url}/pay" in page.text
    assert (await client.get(f"{order_url}/tickets.pdf")).status_code == 303  # no tickets before payment
    r = await client.post(f"{order_url}/cancel", data={"csrf": csrf, "confirmed": "1"})
    assert r.status_code == 303
    page = await client.get(order_url)
    assert "订单已取消" in page.text
    assert "自动全额退款" in page.text


async def test_expired_order_says_so_and_promises_a_refund(
    client: httpx.AsyncClient, runtime: Runtime, tenant: Tenant, sale: OnSale, clock
) -> None:  # noqa: ANN001
    order_url = (await buy(client, tenant, sale, qty=1)).headers["location"]
    clock.advance(timedelta(minutes=16))
    page = await client.get(order_url)
    assert "订单已过期" in page.text and "自动全额退款" in page.text
    assert f"{order_url}/pay" not in page.text


async def test_forms_without_csrf_are_refused(client: httpx.AsyncClient, runtime, tenant: Tenant, sale: OnSale) -> None:  # noqa: ANN001
    url, tokens = await open_session(client, tenant, sale)
    r = await client.post(url, data={"form_token": tokens["form_token"], f"qty_{sale.ticket_type_id}": "1", **buyer()})
    assert r.status_code == 403
    assert await order_count(runtime, tenant) == 0


@pytest.mark.parametrize(
    ("lang", "html_lang", "words"),
    [("en", "en", ["Place order", "Before you buy"]), ("zh-CN", "zh-CN", ["提交订单", "购票须知"])],
)
async def test_session_page_in_both_languages(
    client: httpx.AsyncClient, tenant: Tenant, sale: OnSale, lang: str, html_lang: str, words: list[str]
) -> None:
    page = await client.get(f"/s/{tenant.slug}/sessions/{sale.session_id}?lang={lang}")
    assert f'<html lang="{html_lang}">' in page.text
    for word in words:
        assert word in page.text


MSGID = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


@pytest.mark.parametrize("area", ["shop", "gateway"])
def test_every_shop_and_gateway_string_has_a_chinese_translation(area: str) -> None:
    from pathlib import Path

    from piaowu.i18n import _catalog

    web = Path(__file__).resolve().parents[2] / "src" / "piaowu" / "web"
    sources = [*(web / "templates" / area).glob("*.html"), web / f"{area}.py"]
    if area == "shop":
        sources.append(web / "shop_support.py")
    catalog = _catalog("zh_CN")
    missing = set()
    for path in sources:
        text = re.sub(r'"\s*\n\s*"', "", path.read_text())  # Python's implicit string concatenation
        for m in MSGID.finditer(text):
            msgid = m.group(1) if m.group(1) is not None else m.group(2)
            if msgid not in catalog:
                missing.add(f"{path.name}: {msgid}")
    assert not missing, sorted(missing)


def test_shop_catalogs_do_not_retranslate_other_pages_strings() -> None:
    """Catalogs are merged into one table: a msgid translated differently here would change other pages."""
    from babel.messages.pofile import read_po

    from piaowu.i18n import LOCALES_DIR

    tables = {}
    for path in sorted((LOCALES_DIR / "zh_CN" / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as fh:
            tables[path.name] = {m.id: m.string for m in read_po(fh) if m.id and m.string}
    clashes = [
        f"{mine}: {msgid!r} = {text!r} but {other} says {tables[other][msgid]!r}"
        for mine in ("shop.po", "gateway.po")
        for msgid, text in tables[mine].items()
        for other in tables
        if other not in (mine,) and msgid in tables[other] and tables[other][msgid] != text
    ]
    assert not clashes, clashes


async def test_returning_from_the_gateway_unpaid_shows_confirming_not_success(
    client: httpx.AsyncClient, tenant: Tenant, sale: OnSale
) -> None:
    order_url = (await buy(client, tenant, sale, qty=1)).headers["location"]
    csrf = hidden((await client.get(order_url)).text)["csrf"]
    assert (await client.post(f"{order_url}/pay", data={"csrf": csrf})).status_code == 303
    # The return URL's "paid" is only a hint: the gateway has not been paid, so nothing is issued.
    page = await client.get(f"{order_url}?gateway_result=paid")
    assert "正在确认支付" in page.text
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert 'class="qr-svg"' not in page.text and "支付成功" not in page.text


async def test_the_confirming_page_waits_on_its_push_channel_which_only_its_buyer_may_read(
    client: httpx.AsyncClient,
    runtime: Runtime,
    app,
    tenant: Tenant,
    sale: OnSale,  # noqa: ANN001
) -> None:
    order_url = (await buy(client, tenant, sale, qty=1)).headers["location"]
    csrf = hidden((await client.get(order_url)).text)["csrf"]
    pay = await client.post(f"{order_url}/pay", data={"csrf": csrf})
    page = (await client.get(f"{order_url}?gateway_result=paid")).text
    # With JavaScript the page holds a request on its channel; without, it refreshes itself.
    assert f'data-wait-url="{order_url}/status.json"' in page
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    channel = f"{order_url}/status.json"
    r = await client.get(channel, params={"wait": 0.2})
    assert (r.status_code, r.json()) == (200, {"status": "pending"})
    assert r.headers["cache-control"] == "private, no-store"
    # Another browser (no lookup done) learns nothing, at once.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as other:
        r = await other.get(channel, params={"wait": 20})
        assert r.status_code == 403 and "status" not in r.json()
    # The buyer's held request is answered when the payment's notification commits.
    held = asyncio.create_task(client.get(channel, params={"wait": 20}))
    await asyncio.sleep(0.2)
    assert not held.done()
    wire_callbacks(runtime, app)
    trade_no = pay.headers["location"].rsplit("/", 1)[-1]
    async with runtime.uow() as uow:
        await gw.pay(uow.session, uow.now(), trade_no)
        await uow.commit()
    assert await drain(runtime) >= 1
    r = await asyncio.wait_for(held, 5)
    assert (r.status_code, r.json()) == (200, {"status": "paid"})


async def test_a_closed_trade_cannot_be_paid_on_the_gateway(
    client: httpx.AsyncClient, tenant: Tenant, sale: OnSale
) -> None:
    order_url = (await buy(client, tenant, sale, qty=1)).headers["location"]
    csrf = hidden((await client.get(order_url)).text)["csrf"]
    gateway_url = (await client.post(f"{order_url}/pay", data={"csrf": csrf})).headers["location"]
    await client.post(f"{gateway_url}/cancel", data={"csrf": csrf})
    r = await client.post(f"{gateway_url}/confirm", data={"csrf": csrf})
    assert r.status_code == 409
    assert "此交易已无法支付" in r.text
    assert "支付成功" not in (await client.get(f"{order_url}?gateway_result=paid")).text


async def test_web_orders_share_the_shop_rate_limit_and_say_so_on_the_form(
    runtime: Runtime, client: httpx.AsyncClient, tenant: Tenant, sale: OnSale
) -> None:
    runtime.settings.shop_orders_per_minute = 1
    assert (await buy(client, tenant, sale, qty=1)).status_code == 303
    refused = await buy(client, tenant, sale, qty=1)
    assert refused.status_code == 429 and "60" in refused.text  # the wait is said on the form
    assert 'value="张三"' in refused.text  # what was typed stays
    assert await order_count(runtime, tenant) == 1


async def test_lookup_attempts_are_limited_per_address(client: httpx.AsyncClient, tenant: Tenant, sale: OnSale) -> None:
    form = await client.get(f"/s/{tenant.slug}/lookup")
    csrf = hidden(form.text)["csrf"]
    answers = [
        (
            await client.post(
                f"/s/{tenant.slug}/lookup", data={"csrf": csrf, "code": f"ZZZZ22{i:02d}", "contact": "13812345678"}
            )
        ).status_code
        for i in range(11)
    ]
    assert answers[:10] == [404] * 10 and answers[10] == 429
