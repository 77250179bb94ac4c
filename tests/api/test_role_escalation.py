"""Roles cannot be raised from inside: an admin cannot make an owner (and so cannot reach owner tokens), a token's
role never exceeds its creator's, and only owners manage owners' tokens — through the API, the pages and the
service alike. Each refusal changes nothing."""

from __future__ import annotations

import dataclasses

import pytest

from piaowu.accounts import service as accounts
from piaowu.accounts.permissions import Permission, Role, permissions_for
from piaowu.core.errors import RoleAboveYours
from tests.factories import staff_member
from tests.tenant_world import snapshot
from tests.web.helpers import csrf_of, login, sign_in


async def _token(runtime, tenant, role: str) -> dict[str, str]:  # noqa: ANN001
    async with runtime.uow() as uow:
        token, _ = await accounts.create_token(uow, None, organizer_id=tenant.organizer_id, name=role, role=role)
        await uow.commit()
    return {"Authorization": f"Bearer {token}"}


async def test_an_admin_token_cannot_create_an_owner_nor_sign_in_as_one(runtime, client, tenant):
    admin = await _token(runtime, tenant, "admin")
    before = await snapshot(runtime, tenant.organizer_id)
    body = {"email": "boss2@example.com", "name": "Boss 2", "password": "long enough", "role": "owner"}
    r = await client.post("/api/v1/staff", json=body, headers=admin)
    assert r.status_code == 403 and r.json()["code"] == "role_above_yours", r.text
    assert r.json()["role"] == "owner"
    assert before == await snapshot(runtime, tenant.organizer_id)  # no account, no audit event
    # ... so the rest of the attack (sign in as that owner, make owner tokens) has nothing to start from.
    assert (await login(client, "boss2@example.com", "long enough")).status_code == 401
    # What an admin may give, it still gives: its own role and below.
    for role in ("admin", "gate"):
        ok = await client.post(
            "/api/v1/staff", json={**body, "email": f"{role}@example.com", "role": role}, headers=admin
        )
        assert ok.status_code == 201 and ok.json()["role"] == role, ok.text


async def test_the_staff_page_offers_and_accepts_only_roles_the_admin_holds(runtime, client, tenant):
    await staff_member(runtime, tenant.organizer_id, "admin", "admin@example.com")
    await sign_in(client, "admin@example.com", "correct horse")
    page = await client.get("/manage/staff")
    assert page.status_code == 200
    assert 'value="owner"' not in page.text and 'value="admin"' in page.text and 'value="gate"' in page.text
    form = {"csrf": csrf_of(page.text), "name": "Boss", "email": "boss@example.com", "password": "long enough"}
    r = await client.post("/manage/staff", data={**form, "role": "owner"})  # a crafted form
    assert r.status_code == 403 and "boss@example.com" not in r.text
    async with runtime.uow(readonly=True) as uow:
        admin = await accounts.staff_actor(uow, (await _user_id(runtime, "admin@example.com")))
        people = await accounts.list_staff(uow, admin)
    assert {p.email for p in people} == {tenant.owner_email, "admin@example.com"}
    ok = await client.post("/manage/staff", data={**form, "email": "clerk@example.com", "role": "sales"})
    assert ok.status_code == 303


async def _user_id(runtime, email: str) -> str:  # noqa: ANN001
    from piaowu.accounts import repository

    async with runtime.uow(readonly=True) as uow:
        user = await repository.user_by_email(uow.session, email)
    assert user is not None
    return user.id


async def test_a_token_never_gets_more_than_its_creator_and_owner_tokens_are_managed_by_owners(runtime, tenant):
    """Today only owners hold tokens.manage; the rule holds for any role that gets it later (here: an admin
    who was also given tokens.manage)."""
    async with runtime.uow(readonly=True) as uow:
        owner = await accounts.staff_actor(uow, tenant.owner_id)
    manager = dataclasses.replace(
        owner, role="admin", permissions=permissions_for(Role.ADMIN) | {str(Permission.TOKENS_MANAGE)} - {"x"}
    )
    manager = dataclasses.replace(manager, permissions=manager.permissions - {str(Permission.REFUND)})
    async with runtime.uow() as uow:
        with pytest.raises(RoleAboveYours):
            await accounts.create_token(uow, manager, organizer_id=tenant.organizer_id, name="t", role="owner")
        with pytest.raises(RoleAboveYours):  # finance holds payment.refund, which this manager does not
            await accounts.create_token(uow, manager, organizer_id=tenant.organizer_id, name="t", role="finance")
        _, mine = await accounts.create_token(uow, manager, organizer_id=tenant.organizer_id, name="t", role="sales")
        _, owners = await accounts.create_token(uow, None, organizer_id=tenant.organizer_id, name="o", role="owner")
        with pytest.raises(RoleAboveYours):
            await accounts.revoke_token(uow, manager, owners.id)
        assert (await accounts.revoke_token(uow, manager, mine.id)).revoked_at is not None
        assert (await accounts.revoke_token(uow, owner, owners.id)).revoked_at is not None


async def test_the_cli_may_still_create_owners(runtime, tenant):
    user = await staff_member(runtime, tenant.organizer_id, "owner", "second-owner@example.com")
    assert user.role == "owner"
