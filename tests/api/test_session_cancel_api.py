"""Session cancellation through the API: the orders filter by session, the cancel call and its job, and the
refusals that hold from the cancellation on."""

from __future__ import annotations

from datetime import datetime, timedelta

from piaowu.accounts import service as accounts
from piaowu.workers import bulk
from tests.conftest import make_tenant
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import create_order


async def _codes(client, tenant, **params) -> set[str]:  # noqa: ANN001, ANN003
    r = await client.get("/api/v1/orders", params=params, headers=tenant.auth)
    assert r.status_code == 200, r.text
    return {o["code"] for o in r.json()["items"]}


async def test_list_filter_cancel_progress_and_refusals(runtime, client, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=20)
    other = await on_sale_session(runtime, actor, capacity=20, name="Other")
    pending = (await create_order(client, tenant.auth, sale.ticket_type_id, 2)).json()
    paid = (await create_order(client, tenant.auth, sale.ticket_type_id)).json()
    r = await client.post(f"/api/v1/orders/{paid['id']}/pay", json={"method": "cash"}, headers=tenant.auth)
    assert r.status_code == 200
    elsewhere = (await create_order(client, tenant.auth, other.ticket_type_id)).json()

    before = await _codes(client, tenant, session_id=sale.session_id)
    assert before == {pending["code"], paid["code"]}  # not the other session's order
    assert await _codes(client, tenant, session_id=other.session_id) == {elsewhere["code"]}
    assert await _codes(client, tenant, session_id=sale.session_id, status="paid") == {paid["code"]}

    r = await client.patch(f"/api/v1/sessions/{sale.session_id}", json={"status": "cancelled"}, headers=tenant.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "use_cancel"
    r = await client.get(f"/api/v1/sessions/{sale.session_id}/cancellation", headers=tenant.auth)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"  # not cancelled (yet)

    r = await client.post(
        f"/api/v1/sessions/{sale.session_id}/cancel", json={"reason": "台风 typhoon"}, headers=tenant.auth
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["status"], job["total"], job["processed"], job["reason"]) == ("running", 2, 0, "台风 typhoon")

    r = await client.post(f"/api/v1/orders/{pending['id']}/pay", json={"method": "cash"}, headers=tenant.auth)
    assert r.status_code == 409 and r.json()["code"] == "session_cancelled"
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(f"/api/v1/orders/{pending['id']}/payments", json={}, headers=tenant.auth)
    assert r.status_code == 409 and r.json()["code"] == "session_cancelled"
    r = await create_order(client, tenant.auth, sale.ticket_type_id)
    assert r.status_code == 409 and r.json()["code"] == "not_on_sale"
    r = await client.post(f"/api/v1/sessions/{sale.session_id}/cancel", json={}, headers=tenant.auth)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"

    assert await bulk.run_bulk_jobs(runtime) == 2
    r = await client.get(f"/api/v1/sessions/{sale.session_id}/cancellation", headers=tenant.auth)
    done = r.json()
    assert (done["status"], done["percent"], done["cancelled"], done["refunded"]) == ("done", 100, 1, 1)
    assert done["refunded_minor"] == sale.price_minor and done["failures"] == []
    # After: the same two orders, now cancelled and refunded; the other session's order untouched.
    assert await _codes(client, tenant, session_id=sale.session_id) == before
    assert await _codes(client, tenant, session_id=sale.session_id, status="refunded") == {paid["code"]}
    assert await _codes(client, tenant, session_id=sale.session_id, status="cancelled") == {pending["code"]}
    r = await client.get(f"/api/v1/orders/{elsewhere['id']}", headers=tenant.auth)
    assert r.json()["status"] == "pending"


async def test_only_staff_who_may_refund_cancel_and_only_their_own(runtime, client, tenant):
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor)
    async with runtime.uow() as uow:  # a box-office clerk of the same organizer: sells, cannot refund
        clerk_token, _ = await accounts.create_token(
            uow, None, organizer_id=tenant.organizer_id, name="clerk", role="sales"
        )
        await uow.commit()
    stranger = await make_tenant(runtime, slug="stranger")
    r = await client.post(f"/api/v1/sessions/{sale.session_id}/cancel", json={}, headers=stranger.auth)
    assert r.status_code == 404
    r = await client.get("/api/v1/orders", params={"session_id": sale.session_id}, headers=stranger.auth)
    assert r.json()["items"] == []
    r = await client.post(
        f"/api/v1/sessions/{sale.session_id}/cancel", json={}, headers={"Authorization": f"Bearer {clerk_token}"}
    )
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    r = await client.get(f"/api/v1/sessions/{sale.session_id}", headers=tenant.auth)
    assert r.json()["status"] == "on_sale"


async def test_a_session_that_has_ended_is_not_cancelled_as_a_whole(runtime, client, tenant, clock):  # noqa: ANN001
    actor = await owner_actor(runtime, tenant.owner_id)
    sale = await on_sale_session(runtime, actor, capacity=20)
    paid = (await create_order(client, tenant.auth, sale.ticket_type_id)).json()
    r = await client.post(f"/api/v1/orders/{paid['id']}/pay", json={"method": "cash"}, headers=tenant.auth)
    assert r.status_code == 200
    session = (await client.get(f"/api/v1/sessions/{sale.session_id}", headers=tenant.auth)).json()
    clock.set(datetime.fromisoformat(session["ends_at"]) + timedelta(minutes=1))

    r = await client.post(f"/api/v1/sessions/{sale.session_id}/cancel", json={}, headers=tenant.auth)

    assert r.status_code == 409 and r.json()["code"] == "session_ended", r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    after = (await client.get(f"/api/v1/sessions/{sale.session_id}", headers=tenant.auth)).json()
    assert after["status"] == session["status"]  # nothing changed, no job started
    assert await bulk.run_bulk_jobs(runtime) == 0
    r = await client.get(f"/api/v1/orders/{paid['id']}", headers=tenant.auth)
    assert r.json()["status"] == "paid"
