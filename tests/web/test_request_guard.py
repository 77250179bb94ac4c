"""The request guard covers pages too: a NUL character in a form never reaches PostgreSQL (which would 500)."""

from __future__ import annotations


async def test_nul_in_a_page_form_is_refused_not_a_server_error(client, tenant):
    r = await client.post(
        "/manage/login",
        content=b"email=a%00b%40example.com&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "nul_character"


async def test_nul_in_a_shop_lookup_is_refused(client, tenant):
    r = await client.get(f"/s/{tenant.slug}/lookup", params={"code": "AB\x00CD"})
    assert r.status_code == 422
