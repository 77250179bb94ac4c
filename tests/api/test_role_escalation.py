"""Roles cannot be raised from inside: an admin cannot make an owner (and so cannot reach owner tokens), a token's
role never exceeds its creator's, and only owners manage owners' tokens — through the API, the pages and the
service alike. Each refusal changes nothing."""

from __future__ import annotations

import dataclasses

import pytest

from piaowu.accounts import service as accounts
from piaowu.accounts.permissions import Permission, Role, permissions_for
from piaowu.accounts.schemas import StaffPatch
from piaowu.core.errors import Conflict, RoleAboveYours
from tests.factories import staff_member
from tests.tenant_world import diff, snapshot
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
    assert diff(before, await snapshot(runtime, tenant.organizer_id)) == []  # no account, no audit event
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


async def test_an_admin_cannot_demote_deactivate_or_reset_an_owner(runtime, client, tenant):
    admin = await _token(runtime, tenant, "admin")
    url = f"/api/v1/staff/{tenant.owner_id}"
    before = await snapshot(runtime, tenant.organizer_id)
    for change in ({"role": "gate"}, {"is_active": False}, {"password": "taken over now"}):
        r = await client.patch(url, json=change, headers=admin)
        assert r.status_code == 403 and r.json()["code"] == "role_above_yours", (change, r.text)
    member = await staff_member(runtime, tenant.organizer_id, "gate", "door@example.com")
    up = await client.patch(f"/api/v1/staff/{member.id}", json={"role": "owner"}, headers=admin)
    assert up.status_code == 403 and up.json()["code"] == "role_above_yours"
    after = await snapshot(runtime, tenant.organizer_id)
    assert after["staff_users"] == [*before["staff_users"], *(u for u in after["staff_users"] if u["id"] == member.id)]
    assert (await login(client, tenant.owner_email, tenant.password)).status_code == 303  # the owner still signs in
    # What an admin may do to those below: a new role within its own, deactivation, a new password.
    ok = await client.patch(
        f"/api/v1/staff/{member.id}",
        json={"role": "sales", "is_active": False, "password": "brand new pw"},
        headers=admin,
    )
    assert ok.status_code == 200 and (ok.json()["role"], ok.json()["is_active"]) == ("sales", False), ok.text


async def test_a_deactivated_member_is_signed_out_and_cannot_sign_in(runtime, client, tenant):
    member = await staff_member(runtime, tenant.organizer_id, "sales", "clerk@example.com")
    await sign_in(client, "clerk@example.com", "correct horse")
    assert (await client.get("/manage/orders")).status_code == 200
    r = await client.patch(f"/api/v1/staff/{member.id}", json={"is_active": False}, headers=tenant.auth)
    assert r.status_code == 200 and r.json()["is_active"] is False
    gone = await client.get("/manage/orders")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/manage/login")
    assert (await login(client, "clerk@example.com", "correct horse")).status_code == 401


async def test_nobody_locks_themselves_or_the_organizer_out(runtime, client, tenant):
    me = f"/api/v1/staff/{tenant.owner_id}"
    async with runtime.uow() as uow:  # the owner's own sign-in session, through the service (as the pages do)
        owner = await accounts.staff_actor(uow, tenant.owner_id)
        for change in (StaffPatch(is_active=False), StaffPatch(role=Role.ADMIN)):
            with pytest.raises(Conflict):
                await accounts.update_staff(uow, owner, runtime.passwords, tenant.owner_id, change)
    # Through a token (not the member itself): the last active owner stays an owner.
    r = await client.patch(me, json={"role": "admin"}, headers=tenant.auth)
    assert r.status_code == 409 and r.json()["code"] == "conflict", r.text
    second = await staff_member(runtime, tenant.organizer_id, "owner", "second@example.com")
    r = await client.patch(me, json={"role": "admin"}, headers=tenant.auth)
    assert r.status_code == 200 and r.json()["role"] == "admin"
    r = await client.patch(f"/api/v1/staff/{second.id}", json={"is_active": False}, headers=tenant.auth)
    assert r.status_code == 409  # now the only owner left


async def test_the_member_page_is_closed_to_an_admin_for_an_owner_and_open_for_those_below(runtime, client, tenant):
    await staff_member(runtime, tenant.organizer_id, "admin", "admin@example.com")
    member = await staff_member(runtime, tenant.organizer_id, "gate", "door@example.com")
    await sign_in(client, "admin@example.com", "correct horse")
    listing = await client.get("/manage/staff")
    assert f'href="/manage/staff/{member.id}"' in listing.text
    assert f'href="/manage/staff/{tenant.owner_id}"' not in listing.text  # no "Edit" that could not work
    assert (await client.get(f"/manage/staff/{tenant.owner_id}")).status_code == 403
    form = await client.get(f"/manage/staff/{member.id}")
    assert form.status_code == 200 and 'value="owner"' not in form.text
    data = {"csrf": csrf_of(form.text), "role": "sales", "is_active": "1", "password": ""}
    r = await client.post(f"/manage/staff/{member.id}", data=data)
    assert r.status_code == 303
    crafted = await client.post(f"/manage/staff/{member.id}", data={**data, "role": "owner"})
    assert crafted.status_code == 403
    async with runtime.uow(readonly=True) as uow:
        owner = await accounts.staff_actor(uow, tenant.owner_id)
        assert (await accounts.get_staff(uow, owner, member.id)).role == "sales"
