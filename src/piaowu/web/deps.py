"""Page dependencies: the runtime, the signed-in staff member (cookie session)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from piaowu.accounts import service as accounts
from piaowu.core.actor import Actor
from piaowu.core.errors import NotAuthenticated
from piaowu.runtime import Runtime


class LoginRequired(Exception):
    """Raised by page dependencies; the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def staff_actor(request: Request, rt: RuntimeDep) -> Actor:
    uid = request.session.get("uid")
    if not uid:
        raise LoginRequired(str(request.url.path))
    try:
        async with rt.uow(readonly=True) as uow:
            return await accounts.staff_actor(uow, uid)
    except NotAuthenticated:
        request.session.clear()
        raise LoginRequired(str(request.url.path)) from None


StaffDep = Annotated[Actor, Depends(staff_actor)]


def public_base(request: Request, rt: Runtime) -> str:
    """Where the buyer's browser reaches this server, for links it is sent back to (the gateway's return URL):
    PIAOWU_PUBLIC_URL when set (behind a proxy), else the address this request came in on — so a server on
    another port or address works without configuration."""
    if rt.settings.public_url_configured:
        return rt.settings.public_url
    return str(request.base_url).rstrip("/")
