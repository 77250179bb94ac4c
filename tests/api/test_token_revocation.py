"""A revoked API token is refused at once by every process (issue 7: the sale path caches the token's actor).

Tokens verified by this process are cached, and the create-order route uses that cache without a read; its one
reservation statement re-verifies the token (``accounts.token_checks``). Every other route reads the token's
row on each request. "Another host" here revokes the token with a write this process's cache never hears of.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from piaowu.accounts import service as accounts
from piaowu.accounts.models import ApiToken
from piaowu.orders.models import Order
from tests.factories import on_sale_session, owner_actor
from tests.order_helpers import BUYER


async def _token(runtime: Any, tenant: Any) -> tuple[str, str]:
    async with runtime.uow() as uow:
        token, info = await accounts.create_token(uow, None, organizer_id=tenant.organizer_id, name="pos", role="owner")
        await uow.commit()
    return token, info.id


async def _revoke_elsewhere(runtime: Any, token_id: str) -> None:
    """What another worker or host does: the row changes, this process's cache is not told."""
    async with runtime.uow() as uow:
        await uow.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=uow.now()))
        await uow.commit()


async def _orders(runtime: Any) -> int:
    async with runtime.uow(readonly=True) as uow:
        return (await uow.session.execute(select(func.count()).select_from(Order))).scalar_one()


async def test_a_token_revoked_by_another_process_is_refused_by_the_next_request(runtime, client, tenant):
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=20)
    token, token_id = await _token(runtime, tenant)
    auth = {"Authorization": f"Bearer {token}"}
    body = {"items": [{"ticket_type_id": sale.ticket_type_id, "quantity": 1}], "buyer": BUYER}
    for _ in range(3):  # the token is now in this process's cache, for both kinds of route
        assert (await client.post("/api/v1/orders", json=body, headers=auth)).status_code == 201
        assert (await client.get("/api/v1/orders", headers=auth)).status_code == 200
    assert accounts.cached_token_actor(token) is not None
    before = await _orders(runtime)
    await _revoke_elsewhere(runtime, token_id)
    created = await client.post("/api/v1/orders", json=body, headers=auth)
    assert created.status_code == 401, created.text
    assert (await client.get("/api/v1/orders", headers=auth)).status_code == 401
    keyed = await client.post("/api/v1/orders", json=body, headers={**auth, "Idempotency-Key": "k-1"})
    assert keyed.status_code == 401, keyed.text
    assert await _orders(runtime) == before  # nothing was written with the revoked token
    # Other tokens are unaffected.
    assert (await client.post("/api/v1/orders", json=body, headers=tenant.auth)).status_code == 201


async def test_a_revoked_token_refused_for_its_role_is_told_401_not_403(runtime, client, tenant):
    """The order route takes its caller from the cache; when the cached role lacks the route's permission the
    use case (and its re-check) never runs, so the refusal must not rest on the cache's word alone."""
    sale = await on_sale_session(runtime, await owner_actor(runtime, tenant.owner_id), capacity=20)
    async with runtime.uow() as uow:
        token, info = await accounts.create_token(uow, None, organizer_id=tenant.organizer_id, name="gate", role="gate")
        await uow.commit()
    auth = {"Authorization": f"Bearer {token}"}
    body = {"items": [{"ticket_type_id": sale.ticket_type_id, "quantity": 1}], "buyer": BUYER}
    refused = await client.post("/api/v1/orders", json=body, headers=auth)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied", refused.text
    assert accounts.cached_token_actor(token) is not None
    await _revoke_elsewhere(runtime, info.id)
    again = await client.post("/api/v1/orders", json=body, headers=auth)
    assert again.status_code == 401, again.text
    assert again.json()["code"] == "not_authenticated"
