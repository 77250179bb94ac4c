"""The gate page through HTTP: sign-in, set-up, scanning by JSON and by plain form, CSRF, languages."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from piaowu.checkin.models import Scan
from tests.factories import on_sale_session, owner_actor, staff_member
from tests.ticket_fixtures import at_the_door, attractions, issue_paid, set_grants
from tests.web.helpers import csrf_of, sign_in


async def set_up(client: httpx.AsyncClient, name: str, session_ids: list[str]) -> str:
    page = await client.get("/gate?setup=1")
    r = await client.post(
        "/gate/setup", data={"csrf": csrf_of(page.text), "gate_name": name, "session_ids": session_ids}
    )
    assert r.status_code == 303 and r.headers["location"] == "/gate"
    scanner = await client.get("/gate")
    assert scanner.status_code == 200
    return csrf_of(scanner.text)


async def scan_json(client: httpx.AsyncClient, csrf: str, raw: str, lang: str = "en") -> httpx.Response:
    return await client.post(
        f"/gate/scan?lang={lang}", json={"raw": raw}, headers={"X-CSRF-Token": csrf, "Accept": "application/json"}
    )


async def _scans(rt) -> int:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        return (await uow.session.execute(select(func.count()).select_from(Scan))).scalar_one()


async def test_gate_needs_sign_in(client, tenant):
    r = await client.get("/gate")
    assert r.status_code == 303 and r.headers["location"] == "/manage/login?next=/gate"
    r = await client.post("/gate/scan", json={"raw": "x"})
    assert r.status_code == 303 and r.headers["location"].startswith("/manage/login")


async def test_staff_without_checkin_permission_is_refused(client, runtime, tenant):
    await staff_member(runtime, tenant.organizer_id, "finance", "money@demo.test")
    await sign_in(client, "money@demo.test", "correct horse")
    assert (await client.get("/gate")).status_code == 403


async def test_set_up_then_scan_by_json(client, runtime, tenant, clock):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor, holder_name="王五")
    at_the_door(runtime, issued)
    await sign_in(client, tenant.owner_email, tenant.password)

    setup = await client.get("/gate?lang=en")
    assert "Set up this gate" in setup.text and issued.sale.session_id in setup.text
    bad = await client.post("/gate/setup", data={"csrf": csrf_of(setup.text), "gate_name": " "})
    assert bad.status_code == 422 and "Enter a name for this gate" in bad.text
    bidi = await client.post("/gate/setup", data={"csrf": csrf_of(setup.text), "gate_name": "North\u202e1"})
    assert bidi.status_code == 422 and "Remove control characters" in bidi.text
    foreign = await client.post(
        "/gate/setup", data={"csrf": csrf_of(setup.text), "gate_name": "N", "session_ids": ["not-ours"]}
    )
    assert foreign.status_code == 422 and "Choose sessions from the list" in foreign.text

    csrf = await set_up(client, "North 1", [issued.sale.session_id])
    page = await client.get("/gate")
    assert "North 1" in page.text and 'id="gate-in">0<' in page.text and 'id="gate-total">1<' in page.text

    ok = await scan_json(client, csrf, issued.ticket.qr_payload)
    body = ok.json()
    assert ok.status_code == 200 and body["admitted"] is True and body["kind"] == "ok"
    assert body["icon"] == "✓" and body["title"] == "Admitted" and "Holder: 王五" in body["details"]
    assert body["status"]["checked_in"] == 1 and body["status"]["tickets"] == 1
    assert body["status"]["recent"][0]["title"] == "Admitted"

    again = (await scan_json(client, csrf, issued.ticket.code, lang="zh-CN")).json()
    assert again["result"] == "already_checked_in" and again["icon"] == "✗" and again["title"] == "票已使用"
    assert any("检票口 North 1" in d for d in again["details"])

    nonsense = (await scan_json(client, csrf, "garbage!!")).json()
    assert nonsense["result"] == "invalid_ticket" and nonsense["code"] == ""
    assert await _scans(runtime) == 3


async def test_gate_refuses_tickets_of_other_sessions(client, runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor)
    other = await on_sale_session(runtime, actor, name="Matinee")
    at_the_door(runtime, issued)
    await sign_in(client, tenant.owner_email, tenant.password)
    csrf = await set_up(client, "Side door", [other.session_id])
    body = (await scan_json(client, csrf, issued.ticket.qr_payload)).json()
    assert body["result"] == "wrong_session" and body["title"] == "Not valid for this session"


async def test_scan_by_plain_form_without_javascript(client, runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor)
    at_the_door(runtime, issued)
    await sign_in(client, tenant.owner_email, tenant.password)
    csrf = await set_up(client, "East", [])
    r = await client.post("/gate/scan?lang=en", data={"csrf": csrf, "raw": issued.ticket.code})
    assert r.status_code == 303 and r.headers["location"] == "/gate"
    page = await client.get("/gate?lang=zh-CN")
    assert 'data-result="admitted"' in page.text and "已入场" in page.text
    assert 'data-result="admitted"' not in (await client.get("/gate")).text  # shown once, then "ready"


async def test_csrf_is_enforced(client, runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor)
    at_the_door(runtime, issued)
    await sign_in(client, tenant.owner_email, tenant.password)
    await set_up(client, "East", [])
    r = await client.post("/gate/scan", json={"raw": issued.ticket.code})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    r = await scan_json(client, "forged-token", issued.ticket.code)
    assert r.status_code == 403
    r = await client.post("/gate/scan", data={"csrf": "forged", "raw": issued.ticket.code})
    assert r.status_code == 403
    r = await client.post("/gate/setup", data={"csrf": "forged", "gate_name": "Evil"})
    assert r.status_code == 403
    assert await _scans(runtime) == 0


async def test_scanning_before_set_up_asks_for_it(client, runtime, tenant):
    await sign_in(client, tenant.owner_email, tenant.password)
    setup = await client.get("/gate")
    r = await scan_json(client, csrf_of(setup.text), "ABCDEFGH")
    assert r.status_code == 409 and r.json()["code"] == "gate_not_set_up"
    status = await client.get("/gate/status.json")
    assert status.status_code == 409


async def test_a_pass_shows_each_part_and_the_one_this_scan_used(client, runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    a, b = await attractions(runtime, actor, 2)
    await set_grants(runtime, actor, a.ticket_type_id, {"session_id": a.session_id}, {"session_id": b.session_id})
    issued = await issue_paid(runtime, actor, a)
    at_the_door(runtime, issued)
    await sign_in(client, tenant.owner_email, tenant.password)
    csrf = await set_up(client, "B gate", [b.session_id])

    ok = (await scan_json(client, csrf, issued.ticket.qr_payload)).json()
    assert ok["admitted"] and [(p["use"], p["this"], p["mark"]) for p in ok["entitlements"]] == [
        ("0 of 1 entry used", False, ""),  # one entry allowed: the singular
        ("1 of 1 entry used", True, "Redeemed now"),
    ]
    assert ok["entitlements"][0]["label"].startswith("景点0")
    again = (await scan_json(client, csrf, issued.ticket.code, lang="zh-CN")).json()
    assert again["result"] == "already_checked_in" and again["entitlements"][1]["mark"] == "本次查验"
    assert again["entitlements"][1]["use"] == "已用 1 / 1 次"
    # The plain form (no JavaScript) shows the same parts on the page.
    r = await client.post("/gate/scan?lang=en", data={"csrf": csrf, "raw": issued.ticket.code})
    page = (await client.get(r.headers["location"] + "?lang=en")).text
    assert 'class="gate-passparts"' in page and "Checked now" in page and "1 of 1 entry used" in page


async def test_a_plain_ticket_shows_no_parts(client, runtime, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    issued = await issue_paid(runtime, actor)
    at_the_door(runtime, issued)
    await sign_in(client, tenant.owner_email, tenant.password)
    csrf = await set_up(client, "Main", [issued.sale.session_id])
    assert (await scan_json(client, csrf, issued.ticket.code)).json()["entitlements"] == []


async def test_setup_lists_sessions_by_event_with_later_days_folded(client, runtime, tenant, clock):  # noqa: ANN001
    from datetime import UTC, datetime, timedelta

    from piaowu.catalog import event_service, session_service
    from piaowu.catalog.schemas import EventIn, SessionIn

    # 02:00 UTC is 10:00 in Shanghai. A scenic area every day for 20 days at 16:00 local, a concert tonight.
    clock.set(datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
    actor = await owner_actor(runtime, tenant.owner_id)
    async with runtime.uow() as uow:
        area = await event_service.create_event(uow, actor, EventIn(name="玉龙雪山", is_published=True))
        concert = await event_service.create_event(uow, actor, EventIn(name="新年音乐会", is_published=True))
        daily = []
        for i in range(20):
            starts = datetime(2026, 12, 7, 8, 0, tzinfo=UTC) + timedelta(days=i)
            s = await session_service.create_session(
                uow,
                actor,
                area.id,
                SessionIn(starts_at=starts, ends_at=starts + timedelta(hours=2), capacity=9, status="on_sale"),
            )
            daily.append(s.id)
        tonight = datetime(2026, 12, 7, 11, 30, tzinfo=UTC)
        await session_service.create_session(
            uow,
            actor,
            concert.id,
            SessionIn(starts_at=tonight, ends_at=tonight + timedelta(hours=2), capacity=9, status="on_sale"),
        )
        await uow.commit()
    await sign_in(client, tenant.owner_email, tenant.password)
    page = (await client.get("/gate?setup=1&lang=en")).text
    area_part = page[page.index("<legend>玉龙雪山</legend>") : page.index("<legend>新年音乐会</legend>")]
    shown, folded = area_part.split("<details", 1)
    assert [d for d in daily if d in shown] == daily[:2]  # today and tomorrow
    assert [d for d in daily if d in folded] == daily[2:]
    assert "Later: 18 sessions" in folded and "<details>" in area_part  # folded: nothing there is ticked
    # A ticked later session keeps its group open when the page comes back.
    await set_up(client, "North 1", [daily[10]])
    again = (await client.get("/gate?setup=1&lang=zh-CN")).text
    assert "<details open>" in again and "更晚：18 个场次" in again
