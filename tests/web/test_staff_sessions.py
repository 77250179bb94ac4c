"""Back-office sign-ins end on the server (``accounts.sessions``): a copy of the page cookie — kept by a browser on a
shared box-office terminal, or taken — opens nothing once its holder signed out, once an owner set the member a new
password, or after 12 hours unused, whatever the cookie's own signature says."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select

from piaowu.accounts.models import StaffSession
from piaowu.accounts.sessions import LIFETIME, TOUCH_EVERY
from tests.factories import staff_member
from tests.web.helpers import csrf_of, sign_in

CLERK, PASSWORD = "clerk@sessions.example.com", "correct horse"


def copy_of(client: httpx.AsyncClient, app) -> httpx.AsyncClient:  # noqa: ANN001
    """Another browser holding the same cookies, as a copy of the cookie would."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", cookies=dict(client.cookies)
    )


async def signed_in(client: httpx.AsyncClient) -> bool:
    r = await client.get("/manage/orders")
    assert r.status_code in (200, 303), r.status_code
    return r.status_code == 200


async def sign_out(client: httpx.AsyncClient) -> None:
    r = await client.post("/manage/logout", data={"csrf": csrf_of((await client.get("/manage")).text)})
    assert r.status_code == 303 and r.headers["location"] == "/manage/login"


async def test_a_copy_of_the_cookie_opens_nothing_after_signing_out(runtime, app, client, tenant) -> None:  # noqa: ANN001
    await staff_member(runtime, tenant.organizer_id, "sales", CLERK, PASSWORD)
    await sign_in(client, CLERK, PASSWORD)
    async with copy_of(client, app) as kept:
        assert await signed_in(client) and await signed_in(kept)
        await sign_out(client)
        assert not await signed_in(client)
        assert not await signed_in(kept)  # the cookie is as signed as before: the session it names is over
        r = await kept.get("/manage/login")
        assert r.status_code == 200 and 'name="password"' in r.text  # the form, not a redirect to a closed door


async def test_signing_out_on_one_terminal_leaves_the_other_signed_in(runtime, app, client, tenant) -> None:  # noqa: ANN001
    await staff_member(runtime, tenant.organizer_id, "sales", CLERK, PASSWORD)
    async with copy_of(client, app) as other:
        await sign_in(client, CLERK, PASSWORD)
        await sign_in(other, CLERK, PASSWORD)
        await sign_out(client)
        assert not await signed_in(client) and await signed_in(other)


async def test_a_new_password_ends_every_session_of_that_member_only(runtime, app, client, tenant) -> None:  # noqa: ANN001
    member = await staff_member(runtime, tenant.organizer_id, "sales", CLERK, PASSWORD)
    async with copy_of(client, app) as owner:
        await sign_in(client, CLERK, PASSWORD)
        await sign_in(owner, tenant.owner_email, tenant.password)
        r = await client.patch(f"/api/v1/staff/{member.id}", json={"role": "sales"}, headers=tenant.auth)
        assert r.status_code == 200 and await signed_in(client)  # a change without a password ends nothing
        r = await client.patch(f"/api/v1/staff/{member.id}", json={"password": "a new password"}, headers=tenant.auth)
        assert r.status_code == 200, r.text
        assert not await signed_in(client) and await signed_in(owner)
        await sign_in(client, CLERK, "a new password")
        assert await signed_in(client)


async def test_a_sign_in_ends_after_twelve_hours_unused_and_goes_on_while_used(runtime, client, tenant, clock) -> None:  # noqa: ANN001
    """A gate open from 08:00 to 22:00 stays signed in; the use is written (and the cookie signed again) at
    most every ten minutes, not on every page."""
    member = await staff_member(runtime, tenant.organizer_id, "sales", CLERK, PASSWORD)
    await sign_in(client, CLERK, PASSWORD)

    async def seen_at():  # noqa: ANN202
        async with runtime.uow(readonly=True) as uow:
            q = select(StaffSession.seen_at).where(StaffSession.user_id == member.id)
            return (await uow.session.execute(q)).scalar_one()

    signed_at = await seen_at()
    await client.get("/manage")  # the first page gives the session its CSRF token (a new cookie, whatever else)
    clock.advance(TOUCH_EVERY - timedelta(minutes=1))
    r = await client.get("/manage/orders")
    assert r.status_code == 200 and await seen_at() == signed_at  # not written again so soon
    assert "set-cookie" not in r.headers
    clock.advance(timedelta(minutes=2))
    r = await client.get("/manage/orders")
    assert r.status_code == 200 and await seen_at() == clock.now()
    assert "piaowu_session=" in r.headers["set-cookie"]  # the cookie's Max-Age counts from now too
    for _ in range(2):  # 24 hours after signing in, used twice in them: still signed in
        clock.advance(LIFETIME - timedelta(minutes=1))
        assert await signed_in(client)
    clock.advance(LIFETIME + timedelta(minutes=1))
    assert not await signed_in(client)


async def test_sessions_over_are_forgotten_at_the_next_sign_in(runtime, app, client, tenant, clock) -> None:  # noqa: ANN001
    member = await staff_member(runtime, tenant.organizer_id, "sales", CLERK, PASSWORD)

    async def rows() -> int:
        async with runtime.uow(readonly=True) as uow:
            q = select(func.count()).select_from(StaffSession).where(StaffSession.user_id == member.id)
            return (await uow.session.execute(q)).scalar_one()

    for _ in range(3):  # three browsers
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            await sign_in(c, CLERK, PASSWORD)
    assert await rows() == 3  # each sign-in its own session, none over yet
    clock.advance(LIFETIME + timedelta(minutes=1))
    await sign_in(client, CLERK, PASSWORD)
    assert await rows() == 1 and await signed_in(client)
