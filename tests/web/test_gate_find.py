"""Finding a ticket by hand at the gate (a buyer whose phone died, a code that will not scan): supervisors only,
this gate's sessions only, the phone shown by its last four digits, and "Check in" runs the same scan as a
scanner — a used or refunded ticket is refused there exactly as when scanned."""

from __future__ import annotations

import httpx
from sqlalchemy import update

from piaowu.tickets.models import Ticket
from piaowu.web.gate import admissible_lines, phone_tail
from tests.factories import on_sale_session, owner_actor, staff_member
from tests.ticket_fixtures import at_the_door, issue_paid
from tests.web.helpers import csrf_of, sign_in
from tests.web.test_gate_pages import set_up


def test_phone_tail_keeps_the_last_four_digits_only() -> None:
    assert phone_tail("+86 138 1234 5678") == "5678"
    assert phone_tail("138-0013-8000") == "8000"
    assert phone_tail("123") == "" and phone_tail("") == ""


async def test_a_supervisor_finds_the_order_and_checks_the_ticket_in(
    client: httpx.AsyncClient, runtime, tenant
) -> None:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    tonight = await issue_paid(runtime, actor, holder_name="王五", buyer_name="王五")
    other = await issue_paid(runtime, actor, buyer_name="王五")  # same buyer, another session: not this gate's
    at_the_door(runtime, tonight)
    await sign_in(client, tenant.owner_email, tenant.password)
    csrf = await set_up(client, "North 1", [tonight.sale.session_id])
    assert 'href="/gate/find"' in (await client.get("/gate?lang=en")).text

    short = await client.get("/gate/find", params={"q": "王五", "lang": "en"})
    assert short.status_code == 422 and "Enter at least 4 characters" in short.text

    by_code = await client.get("/gate/find", params={"q": tonight.order_code.lower(), "lang": "en"})
    assert by_code.status_code == 200
    assert tonight.ticket.code in by_code.text and "Used 0 of 1" in by_code.text
    assert other.ticket.code not in by_code.text
    by_phone = await client.get("/gate/find", params={"q": "5678", "lang": "zh-CN"})
    assert tonight.ticket.code in by_phone.text and other.ticket.code not in by_phone.text
    assert "手机尾号 5678" in by_phone.text and "13812345678" not in by_phone.text
    nothing = await client.get("/gate/find", params={"q": "ZZZZZZZZ", "lang": "en"})
    assert "No order found for this gate" in nothing.text

    done = await client.post("/gate/scan", data={"csrf": csrf_of(by_code.text), "raw": tonight.ticket.code})
    assert done.status_code == 303 and done.headers["location"] == "/gate"
    page = await client.get("/gate?lang=en")
    assert 'data-result="admitted"' in page.text and 'id="gate-in">1<' in page.text
    again = await client.get("/gate/find", params={"q": tonight.order_code, "lang": "en"})
    assert "Used 1 of 1 (North 1)" in again.text
    refused = await client.post("/gate/scan", data={"csrf": csrf, "raw": tonight.ticket.code})
    assert refused.status_code == 303
    assert 'data-result="already_checked_in"' in (await client.get("/gate")).text


async def test_a_refunded_ticket_is_shown_as_such_and_refused_at_check_in(client, runtime, tenant) -> None:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor)
    at_the_door(runtime, issued)
    async with runtime.uow() as uow:
        await uow.session.execute(update(Ticket).where(Ticket.id == issued.ticket.id).values(status="refunded"))
        await uow.commit()
    await sign_in(client, tenant.owner_email, tenant.password)
    await set_up(client, "North 1", [])  # every session
    found = await client.get("/gate/find", params={"q": issued.order_code, "lang": "en"})
    assert issued.ticket.code in found.text and "Refunded" in found.text
    r = await client.post("/gate/scan", data={"csrf": csrf_of(found.text), "raw": issued.ticket.code})
    assert r.status_code == 303
    assert 'data-result="refunded"' in (await client.get("/gate")).text


async def test_a_steward_may_scan_but_not_search(client, runtime, tenant) -> None:  # noqa: ANN001
    await staff_member(runtime, tenant.organizer_id, "gate", "steward@demo.test")
    await sign_in(client, "steward@demo.test", "correct horse")
    await set_up(client, "North 1", [])
    assert 'href="/gate/find"' not in (await client.get("/gate")).text
    assert (await client.get("/gate/find", params={"q": "ABCDEFGH"})).status_code == 403


async def test_the_search_needs_a_set_up_gate(client, runtime, tenant) -> None:  # noqa: ANN001
    await sign_in(client, tenant.owner_email, tenant.password)
    r = await client.get("/gate/find", params={"q": "ABCDEFGH"})
    assert r.status_code == 303 and r.headers["location"] == "/gate"


async def test_a_pass_is_found_at_a_gate_of_any_session_it_grants(runtime, tenant) -> None:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor)
    elsewhere = await on_sale_session(runtime, actor, name="别处 Elsewhere")
    from piaowu.orders import service as orders_service

    async with runtime.uow(readonly=True) as uow:
        order = await orders_service.get_order(uow, actor, issued.order_id)
    assert admissible_lines(order, []) == order.lines  # a gate of every session
    assert admissible_lines(order, [issued.sale.session_id]) == order.lines
    assert admissible_lines(order, [elsewhere.session_id]) == []
    line = order.lines[0]
    granted = line.model_copy(
        update={"ticket": line.ticket.model_copy(update={"entitlements": [
            e.model_copy(update={"session_id": elsewhere.session_id}) for e in line.ticket.entitlements
        ]})}
    )  # fmt: skip
    assert admissible_lines(order.model_copy(update={"lines": [granted]}), [elsewhere.session_id]) == [granted]
