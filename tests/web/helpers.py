"""Driving the pages as a browser does: read the hidden fields a form carries (the CSRF token, the shop's one-time
form token), sign in through /manage/login, post a form that was first opened."""

from __future__ import annotations

import re

import httpx

HIDDEN = re.compile(r'name="(csrf|form_token)" value="([^"]+)"')


def hidden(html: str) -> dict[str, str]:
    """The CSRF token (always) and the shop's form token (when the form has one) of the first form on the page."""
    found: dict[str, str] = {}
    for name, value in HIDDEN.findall(html):
        found.setdefault(name, value)
    assert "csrf" in found, "no CSRF field in the page"
    return found


def csrf_of(html: str) -> str:
    return hidden(html)["csrf"]


async def login(client: httpx.AsyncClient, email: str, password: str, next_url: str = "") -> httpx.Response:
    """One attempt at the sign-in form, with the token the form was served with; the answer as it comes."""
    form = await client.get("/manage/login")
    data = {"csrf": csrf_of(form.text), "email": email, "password": password, "next": next_url}
    return await client.post("/manage/login", data=data)


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> None:
    r = await login(client, email, password)
    assert r.status_code == 303, r.text


async def post_form(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    """Opens the form at ``path`` (it must render) and submits ``data`` with the form's CSRF token."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return await client.post(path, data={"csrf": csrf_of(page.text), **data})
