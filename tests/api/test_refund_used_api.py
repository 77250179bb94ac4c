"""POST /orders/{id}/refunds and tickets used at a gate: ``ticket_used`` (409) with the used lines, nothing
written; the override needs a written reason (422 otherwise); with one, the refund goes through and the audit
event keeps the reason; the check-in figures still agree with the scans."""

from __future__ import annotations

from datetime import timedelta

from piaowu.catalog import views as catalog_views
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import create_order


async def _paid_and_one_admitted(runtime, client, tenant) -> tuple[dict, str]:  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=10)
    order = (await create_order(client, tenant.auth, sale.ticket_type_id, 2)).json()
    paid = (await client.post(f"/api/v1/orders/{order['id']}/pay", json={"method": "cash"}, headers=tenant.auth)).json()
    async with runtime.uow(readonly=True) as uow:
        label = (await catalog_views.session_labels(uow, tenant.organizer_id, [sale.session_id]))[sale.session_id]
    runtime.clock.set(label.starts_at - timedelta(minutes=10))
    code = paid["lines"][0]["ticket"]["code"]
    scan = await client.post("/api/v1/checkin/scan", json={"raw": code, "gate": "East"}, headers=tenant.auth)
    assert scan.json()["result"] == "admitted"
    return paid, sale.session_id


async def test_refunding_a_used_ticket_is_ticket_used_and_changes_nothing(runtime, client, tenant):
    paid, session_id = await _paid_and_one_admitted(runtime, client, tenant)
    url = f"/api/v1/orders/{paid['id']}/refunds"
    used = paid["lines"][0]
    for body, lang in (({}, "zh-CN"), ({"line_ids": [used["id"]]}, "en")):
        r = await client.post(url, json=body, headers={**tenant.auth, "Accept-Language": lang, "Idempotency-Key": lang})
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["code"] == "ticket_used"
        assert problem["line_ids"] == [used["id"]] and problem["ticket_codes"] == [used["ticket"]["code"]]
        assert ("已在闸口检票入场" if lang == "zh-CN" else "already used at a gate") in problem["title"]
    after = (await client.get(f"/api/v1/orders/{paid['id']}", headers=tenant.auth)).json()
    assert after == paid | {"lines": after["lines"]} and after["refunded_minor"] == 0
    assert [line["status"] for line in after["lines"]] == ["active", "active"]
    assert after["lines"][0]["ticket"]["entries_used"] == 1
    s = (await client.get(f"/api/v1/sessions/{session_id}", headers=tenant.auth)).json()
    assert s["sold"] == 2


async def test_the_override_needs_a_reason_then_refunds_and_the_audit_keeps_it(runtime, client, tenant):
    paid, session_id = await _paid_and_one_admitted(runtime, client, tenant)
    url = f"/api/v1/orders/{paid['id']}/refunds"
    for reason in ("", "  "):
        r = await client.post(url, json={"allow_used": True, "reason": reason}, headers=tenant.auth)
        assert r.status_code == 422 and r.json()["code"] == "validation_error"
        assert [e["field"] for e in r.json()["errors"]] == ["reason"]
    r = await client.post(url, json={"allow_used": True}, headers={**tenant.auth, "Accept-Language": "en"})
    assert r.status_code == 422 and r.json()["errors"][0]["message"] == (
        "Write why tickets already used at a gate are refunded."
    )

    r = await client.post(url, json={"allow_used": True, "reason": "演出取消 show cancelled"}, headers=tenant.auth)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "refunded" and done["refunded_minor"] == done["paid_minor"]
    assert {line["ticket"]["status"] for line in done["lines"]} == {"refunded"}
    events = (
        await client.get(f"/api/v1/audit-events?subject_id={paid['id']}&action=order.refunded", headers=tenant.auth)
    ).json()["items"]
    (event,) = events
    assert event["after"]["reason"] == "演出取消 show cancelled" and event["after"]["allow_used"] is True
    assert event["after"]["used_lines"] == [paid["lines"][0]["id"]]
    # the used ticket's place stays sold; the other one is back on sale
    s = (await client.get(f"/api/v1/sessions/{session_id}", headers=tenant.auth)).json()
    assert (s["sold"], s["available"]) == (1, 9)
    stats = (await client.get(f"/api/v1/checkin/stats?session_id={session_id}", headers=tenant.auth)).json()
    assert (stats["checked_in"], stats["scans_admitted"], stats["refunded_after_entry"]) == (1, 1, 1)
    assert stats["tickets"] == 1  # the valid ones (none left) and the one that admitted someone
