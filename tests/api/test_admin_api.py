from __future__ import annotations

from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import create_order


async def test_tokens_can_be_created_used_and_revoked(client, tenant):
    r = await client.post("/api/v1/tokens", json={"name": "distributor", "role": "sales"}, headers=tenant.auth)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    me = await client.get("/api/v1/organizer", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["slug"] == tenant.slug and me.json()["public_key"]
    # a sales token may sell but not manage tokens
    denied = await client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {token}"})
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    revoked = await client.post(f"/api/v1/tokens/{r.json()['id']}/revoke", headers=tenant.auth)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    after = await client.get("/api/v1/organizer", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401 and after.json()["code"] == "not_authenticated"


async def test_staff_can_be_added_with_a_known_role_only(client, tenant):
    ok = await client.post(
        "/api/v1/staff",
        json={"email": "clerk@example.com", "name": "Clerk", "password": "12345678", "role": "sales"},
        headers=tenant.auth,
    )
    assert ok.status_code == 201 and ok.json()["role"] == "sales"
    bad = await client.post(
        "/api/v1/staff",
        json={"email": "c2@example.com", "name": "C", "password": "12345678", "role": "god"},
        headers=tenant.auth,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "role"
    dup = await client.post(
        "/api/v1/staff",
        json={"email": "clerk@example.com", "name": "Clerk", "password": "12345678", "role": "sales"},
        headers=tenant.auth,
    )
    assert dup.status_code == 409


async def test_every_order_change_is_in_the_audit_log(runtime, client, tenant):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id))
    order = (await create_order(client, tenant.auth, sale.ticket_type_id, 1)).json()
    await client.post(f"/api/v1/orders/{order['id']}/pay", json={"method": "cash"}, headers=tenant.auth)
    r = await client.get(
        "/api/v1/audit-events", params={"subject_type": "order", "subject_id": order["id"]}, headers=tenant.auth
    )
    assert r.status_code == 200
    assert [e["action"] for e in r.json()["items"]][::-1] == ["order.created", "order.paid"]
    page1 = await client.get("/api/v1/audit-events", params={"limit": 2}, headers=tenant.auth)
    assert page1.json()["next_cursor"]
    page2 = await client.get(
        "/api/v1/audit-events", params={"limit": 2, "cursor": page1.json()["next_cursor"]}, headers=tenant.auth
    )
    ids1 = {e["id"] for e in page1.json()["items"]}
    assert page2.status_code == 200 and not ids1 & {e["id"] for e in page2.json()["items"]}
    today = await client.get("/api/v1/reports/today", headers=tenant.auth)
    assert today.status_code == 200 and today.json()["sales"]
