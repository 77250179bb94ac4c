"""Back-office pages through HTTP: sign-in, catalog forms, inline errors, tenancy, language, CSRF."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import httpx
import pytest
from pypdf import PdfReader

from piaowu.catalog import event_service, session_service
from piaowu.catalog.schemas import EventIn
from piaowu.orders import service as orders
from piaowu.runtime import Runtime
from tests.factories import on_sale_session, owner_actor, pending_order, staff_member
from tests.ticket_fixtures import issue_paid
from tests.web.helpers import csrf_of, login, post_form, sign_in


async def test_pages_need_sign_in(client: httpx.AsyncClient, tenant) -> None:  # noqa: ANN001
    r = await client.get("/manage/events")
    assert r.status_code == 303
    assert r.headers["location"] == "/manage/login?next=/manage/events"


async def test_wrong_password_keeps_email_and_says_why(client: httpx.AsyncClient, tenant) -> None:  # noqa: ANN001
    r = await login(client, tenant.owner_email, "wrong password")
    assert r.status_code == 401
    assert f'value="{tenant.owner_email}"' in r.text
    assert 'role="alert"' in r.text
    assert (await client.get("/manage/events")).status_code == 303  # still signed out


async def test_sign_in_goes_to_next_local_path_only(client: httpx.AsyncClient, tenant) -> None:  # noqa: ANN001
    r = await login(client, tenant.owner_email, tenant.password, next_url="/manage/events")
    assert r.status_code == 303 and r.headers["location"] == "/manage/events"
    assert (await client.get("/manage/events")).status_code == 200
    client.cookies.clear()
    r = await login(client, tenant.owner_email, tenant.password, next_url="//evil.example/steal")
    assert r.headers["location"] == "/manage"


async def test_sign_out_ends_the_session(client: httpx.AsyncClient, tenant) -> None:  # noqa: ANN001
    await sign_in(client, tenant.owner_email, tenant.password)
    dash = await client.get("/manage")
    assert dash.status_code == 200
    r = await client.post("/manage/logout", data={"csrf": csrf_of(dash.text)})
    assert r.status_code == 303
    assert (await client.get("/manage")).status_code == 303


async def test_failed_sign_ins_are_limited(client: httpx.AsyncClient, tenant, clock) -> None:  # noqa: ANN001
    for _ in range(5):
        assert (await login(client, tenant.owner_email, "nope nope")).status_code == 401
    blocked = await login(client, tenant.owner_email, tenant.password)
    assert blocked.status_code == 429  # even the right password waits: the limit is per e-mail + address
    clock.advance(timedelta(minutes=5, seconds=1))
    assert (await login(client, tenant.owner_email, tenant.password)).status_code == 303


async def test_post_without_csrf_is_rejected(client: httpx.AsyncClient, tenant, runtime: Runtime) -> None:  # noqa: ANN001
    await sign_in(client, tenant.owner_email, tenant.password)
    r = await client.post("/manage/events/new", data={"name": "Sneaky", "kind": "performance"})
    assert r.status_code == 403
    r = await client.post("/manage/events/new", data={"name": "Sneaky", "kind": "performance", "csrf": "forged"})
    assert r.status_code == 403
    async with runtime.uow(readonly=True) as uow:
        page = await event_service.list_events(uow, await owner_actor(runtime, tenant.owner_id))
    assert page.items == []


async def test_event_session_ticket_type_through_the_forms(
    client: httpx.AsyncClient,
    tenant,
    runtime: Runtime,  # noqa: ANN001
) -> None:
    await sign_in(client, tenant.owner_email, tenant.password)
    r = await post_form(
        client,
        "/manage/events/new",
        {"name": "春季音乐会", "kind": "performance", "venue_name": "大剧院", "is_published": "1"},
    )
    assert r.status_code == 303
    event_path = r.headers["location"]
    event_id = event_path.rsplit("/", 1)[1]

    r = await post_form(
        client,
        f"{event_path}/sessions/new",
        {
            "name": "晚场",
            "starts_at": "2026-07-01T19:30",
            "ends_at": "2026-07-01T22:00",
            "capacity": "500",
            "status": "on_sale",
            "admission_opens_minutes": "60",
        },
    )
    assert r.status_code == 303
    session_path = r.headers["location"]
    session_id = session_path.rsplit("/", 1)[1]

    r = await post_form(
        client,
        f"{session_path}/ticket-types/new",
        {
            "name": "A区",
            "price": "380.50",
            "quota": "100",
            "min_per_order": "1",
            "max_per_order": "6",
            "is_active": "1",
        },
    )
    assert r.status_code == 303

    actor = await owner_actor(runtime, tenant.owner_id)
    async with runtime.uow(readonly=True) as uow:
        ev = await event_service.get_event(uow, actor, event_id)
    assert ev.name == "春季音乐会" and ev.venue_name == "大剧院" and ev.is_published
    (s,) = ev.sessions
    assert s.id == session_id and s.capacity == 500 and s.status == "on_sale"
    # 19:30 in Shanghai is 11:30 UTC
    assert s.starts_at.isoformat() == "2026-07-01T11:30:00+00:00"
    (t,) = s.ticket_types
    assert (t.name, t.price_minor, t.quota, t.max_per_order) == ("A区", 38050, 100, 6)

    page = await client.get(session_path)
    assert "¥380.50" in page.text and "2026-07-01 19:30" in page.text

    # edit: the price shows in yuan, a change lands in minor units
    edit_path = f"{session_path}/ticket-types/{t.id}/edit"
    assert 'value="380.50"' in (await client.get(edit_path)).text
    r = await post_form(client, edit_path, {"name": "A区", "price": "400", "quota": "", "max_per_order": "6"})
    assert r.status_code == 303
    async with runtime.uow(readonly=True) as uow:
        s = await session_service.get_session(uow, actor, session_id)
    assert s.ticket_types[0].price_minor == 40000 and s.ticket_types[0].quota is None
    assert s.ticket_types[0].is_active is False  # the box was not ticked


async def test_inline_errors_keep_what_was_typed(client: httpx.AsyncClient, tenant, runtime: Runtime) -> None:  # noqa: ANN001
    await sign_in(client, tenant.owner_email, tenant.password)
    r = await post_form(client, "/manage/events/new", {"name": "Show", "kind": "performance"})
    event_path = r.headers["location"]

    r = await post_form(
        client,
        f"{event_path}/sessions/new?lang=en",
        {"name": "Late", "starts_at": "2026-07-01T22:00", "ends_at": "2026-07-01T19:00", "capacity": "80"},
    )
    assert r.status_code == 422
    assert "The end must be after the start." in r.text
    assert 'id="f-ends_at"' in r.text and 'aria-invalid="true"' in r.text
    assert 'value="Late"' in r.text and 'value="2026-07-01T22:00"' in r.text

    r = await post_form(
        client,
        f"{event_path}/sessions/new",
        {"starts_at": "2026-07-01T19:00", "ends_at": "2026-07-01T21:00", "capacity": "80", "status": "on_sale"},
    )
    session_path = r.headers["location"]
    r = await post_form(
        client,
        f"{session_path}/ticket-types/new?lang=zh-CN",
        {"name_zh": "Adult", "price": "abc", "max_per_order": "4"},
    )
    assert r.status_code == 422
    assert 'id="f-price-error"' in r.text
    assert "请输入以元为单位的价格" in r.text
    assert 'value="abc"' in r.text and 'value="Adult"' in r.text
    # An emptied capacity on the edit form is an error on that field, not a silent "keep the old value".
    r = await post_form(
        client,
        f"{session_path}/edit?lang=en",
        {"starts_at": "2026-07-01T19:00", "ends_at": "2026-07-01T21:00", "capacity": "", "status": "on_sale"},
    )
    assert r.status_code == 422 and 'id="f-capacity-error"' in r.text and "This field is required." in r.text
    actor = await owner_actor(runtime, tenant.owner_id)
    async with runtime.uow(readonly=True) as uow:
        s = await session_service.get_session(uow, actor, session_path.rsplit("/", 1)[1])
    assert s.ticket_types == []


async def test_another_organizers_event_is_not_found(
    client: httpx.AsyncClient,
    tenant,
    other_tenant,
    runtime: Runtime,  # noqa: ANN001
) -> None:
    other = await owner_actor(runtime, other_tenant.owner_id)
    async with runtime.uow() as uow:
        theirs = await event_service.create_event(uow, other, EventIn(name="Not yours"))
        await uow.commit()
    their_sale = await on_sale_session(runtime, other, name="Theirs")
    their_order = await pending_order(runtime, other, their_sale.ticket_type_id)
    await sign_in(client, tenant.owner_email, tenant.password)
    r = await client.get(f"/manage/events/{theirs.id}")
    assert r.status_code == 404
    assert "Not yours" not in r.text
    r = await client.get(f"/manage/events/{theirs.id}/edit?lang=en")
    assert r.status_code == 404 and "No event with this id." in r.text
    for path in (
        f"/manage/sessions/{their_sale.session_id}",
        f"/manage/sell?session={their_sale.session_id}",
        f"/manage/orders/{their_order.id}",
        f"/manage/orders/{their_order.id}/tickets.pdf",
    ):
        assert (await client.get(path)).status_code == 404, path
    csrf = csrf_of((await client.get("/manage")).text)
    r = await client.post(f"/manage/orders/{their_order.id}/cancel", data={"csrf": csrf})
    assert r.status_code == 404
    async with runtime.uow(readonly=True) as uow:
        assert (await orders.get_order(uow, other, their_order.id)).status == "pending"


@pytest.mark.parametrize(
    ("lang", "html_lang", "text"), [("en", "en", "Upcoming sessions"), ("zh-CN", "zh-CN", "即将开始的场次")]
)
async def test_language_switch(client: httpx.AsyncClient, tenant, lang: str, html_lang: str, text: str) -> None:  # noqa: ANN001
    await sign_in(client, tenant.owner_email, tenant.password)
    r = await client.get(f"/manage?lang={lang}")
    assert r.status_code == 200
    assert f'<html lang="{html_lang}">' in r.text and text in r.text
    # the choice sticks (cookie) for the next page without ?lang=
    assert f'<html lang="{html_lang}">' in (await client.get("/manage/events")).text


async def test_box_office_sale_then_refund(client: httpx.AsyncClient, tenant, runtime: Runtime) -> None:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=10, price_minor=18000)
    await sign_in(client, tenant.owner_email, tenant.password)
    sell_page = f"/manage/sell?session={sale.session_id}"

    # a bad mobile number and too little cash are shown inline, nothing is sold
    r = await post_form(
        client,
        sell_page,
        {
            "session": sale.session_id,
            f"qty_{sale.ticket_type_id}": "2",
            "buyer_name": "张三",
            "buyer_phone": "123",
            "method": "cash",
            "tendered": "100",
        },
    )
    assert r.status_code == 422
    assert 'id="f-buyer_phone-error"' in r.text and 'value="张三"' in r.text
    forged = {"session": sale.session_id, "qty_" + "x" * 60: "1", "buyer_name": "张三", "buyer_phone": "13812345678"}
    r = await post_form(client, sell_page, forged)
    assert r.status_code == 422 and 'id="error-summary"' in r.text  # a made-up ticket type: a message, not a 500
    async with runtime.uow(readonly=True) as uow:
        assert (await orders.list_orders(uow, actor)).items == []

    r = await post_form(
        client,
        sell_page,
        {
            "session": sale.session_id,
            f"qty_{sale.ticket_type_id}": "2",
            "buyer_name": "张三",
            "buyer_phone": "13812345678",
            "method": "cash",
            "tendered": "400",
        },
    )
    assert r.status_code == 303, r.text
    order_path = r.headers["location"]
    detail = await client.get(order_path + "?lang=en")
    assert "找零：¥40.00" in detail.text  # the flash was written in the language of the sale (default zh-CN)
    assert "Print tickets (PDF)" in detail.text
    order_id = order_path.rsplit("/", 1)[1]
    async with runtime.uow(readonly=True) as uow:
        order = await orders.get_order(uow, actor, order_id)
    assert order.status == "paid" and order.paid_minor == 36000 and order.channel == "box_office"
    assert all(line.ticket is not None for line in order.lines)

    pdf = await client.get(f"{order_path}/tickets.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    assert len(pages) == 2  # the same tickets as the API's and the shop's PDF (tickets.printing)
    text = pages[0].extract_text()
    assert order.code in text and "张三" in text and "Grand Hall" in text and "180.00" in text

    # the list finds it by buyer name and by code
    assert order.code in (await client.get("/manage/orders?q=张三")).text
    assert order.code in (await client.get(f"/manage/orders?q={order.code}&status=paid")).text
    assert order.code not in (await client.get("/manage/orders?status=pending")).text

    # refund one of the two tickets
    r = await post_form(client, order_path, {"line": order.lines[0].id, "reason": "ill"})
    assert r.status_code == 405  # the detail page itself takes no POST
    page = await client.get(order_path)
    form = {"csrf": csrf_of(page.text), "line": order.lines[0].id}
    r = await client.post(f"{order_path}/refund", data=form)
    assert r.status_code == 200 and 'name="confirmed" value="1"' in r.text  # asks first (tests/web/test_refund_pages)
    r = await client.post(f"{order_path}/refund", data={**form, "confirmed": "1", "reason": "ill"})
    assert r.status_code == 303
    async with runtime.uow(readonly=True) as uow:
        order = await orders.get_order(uow, actor, order_id)
    assert order.status == "partially_refunded" and order.refunded_minor == 18000
    history = (await client.get(order_path + "?lang=en")).text
    assert "Order placed, tickets held" in history and "Tickets refunded" in history


async def test_cancel_pending_order_from_its_page(client: httpx.AsyncClient, tenant, runtime: Runtime) -> None:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=5)
    pending = await pending_order(runtime, actor, sale.ticket_type_id, 3)
    await sign_in(client, tenant.owner_email, tenant.password)
    page = await client.get(f"/manage/orders/{pending.id}")
    assert "Awaiting payment" in page.text or "待支付" in page.text
    r = await client.post(f"/manage/orders/{pending.id}/cancel", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    async with runtime.uow(readonly=True) as uow:
        assert (await orders.get_order(uow, actor, pending.id)).status == "cancelled"
    page = await client.get(f"/manage/orders/{pending.id}")
    assert f"/manage/orders/{pending.id}/cancel" not in page.text  # no action offered that cannot apply
    # paying a cancelled order is refused with the reason on the order page, not a crash
    r = await client.post(f"/manage/orders/{pending.id}/pay", data={"csrf": csrf_of(page.text), "method": "cash"})
    assert r.status_code == 409 and 'id="order-error"' in r.text


async def test_a_refused_payment_or_refund_keeps_what_was_typed(
    client: httpx.AsyncClient, tenant, runtime: Runtime
) -> None:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=5)
    pending = await pending_order(runtime, actor, sale.ticket_type_id, 1)
    await sign_in(client, tenant.owner_email, tenant.password)
    path = f"/manage/orders/{pending.id}"
    csrf = csrf_of((await client.get(path)).text)
    r = await client.post(f"{path}/pay?lang=en", data={"csrf": csrf, "method": "cash", "tendered": "12,x"})
    assert r.status_code == 422 and 'id="pay-tendered-error"' in r.text and 'value="12,x"' in r.text
    r = await client.post(f"{path}/pay", data={"csrf": csrf, "method": "cheque"})
    assert r.status_code == 422 and 'id="pay-method-error"' in r.text  # a forged method: a message, not a 500
    async with runtime.uow(readonly=True) as uow:
        assert (await orders.get_order(uow, actor, pending.id)).status == "pending"

    issued = await issue_paid(runtime, actor, n=2)
    path = f"/manage/orders/{issued.order_id}"
    r = await client.post(f"{path}/refund?lang=en", data={"csrf": csrf, "reason": "rain"})
    assert r.status_code == 422 and "Choose the tickets to refund." in r.text
    assert " checked>" not in r.text  # nothing was ticked, nothing is now (the reason is asked on confirmation)


async def test_staff_and_tokens(client: httpx.AsyncClient, tenant, runtime: Runtime) -> None:  # noqa: ANN001
    await sign_in(client, tenant.owner_email, tenant.password)
    r = await post_form(
        client, "/manage/staff", {"name": "Clerk", "email": "not-an-email", "password": "x", "role": "sales"}
    )
    assert r.status_code == 422 and 'id="f-email-error"' in r.text and 'id="f-password-error"' in r.text
    r = await post_form(
        client,
        "/manage/staff",
        {"name": "Clerk", "email": "clerk@demo-theatre.cn", "password": "long enough", "role": "sales"},
    )
    assert r.status_code == 303

    r = await post_form(client, "/manage/tokens", {"name": "Distributor", "role": "sales"})
    assert r.status_code == 200
    token = re.search(r'id="new-token">([^<]+)<', r.text).group(1)
    assert (await client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    assert token not in (await client.get("/manage/tokens")).text  # shown once

    # the clerk signs in: sells, but sees no staff or token pages
    client.cookies.clear()
    assert (await login(client, "clerk@demo-theatre.cn", "long enough")).status_code == 303
    dash = await client.get("/manage")
    assert 'href="/manage/sell"' in dash.text and 'href="/manage/staff"' not in dash.text
    assert (await client.get("/manage/staff")).status_code == 403
    assert (await client.get("/manage/tokens")).status_code == 403


async def test_gate_staff_are_pointed_to_the_gate(client: httpx.AsyncClient, tenant, runtime: Runtime) -> None:  # noqa: ANN001
    await staff_member(runtime, tenant.organizer_id, "gate", "gate@demo-theatre.cn", "gate gate gate")
    assert (await login(client, "gate@demo-theatre.cn", "gate gate gate")).status_code == 303
    dash = await client.get("/manage?lang=en")
    assert dash.status_code == 200 and 'href="/gate"' in dash.text
    assert 'href="/manage/orders"' not in dash.text and 'href="/manage/events"' not in dash.text
    assert (await client.get("/manage/orders")).status_code == 403
