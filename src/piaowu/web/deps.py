"""Page dependencies: the runtime, the signed-in staff member (cookie session)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from piaowu.accounts import sessions as staff_sessions
from piaowu.appscope import route_rules_of, runtime_of
from piaowu.core.actor import Actor
from piaowu.core.errors import NotAuthenticated, PermissionDenied
from piaowu.routes import rule_of
from piaowu.runtime import Runtime


class LoginRequired(Exception):
    """Raised by page dependencies; the app answers with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


async def get_runtime(request: Request) -> Runtime:  # async: no worker-thread hop per request
    return runtime_of(request.scope)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def staff_actor(request: Request, rt: RuntimeDep) -> Actor:
    known = getattr(request.state, "actor", None)
    if known is not None:  # already identified by ``enforce_page`` for this request
        return known
    sid = request.session.get("sid")
    if not sid:
        raise LoginRequired(str(request.url.path))
    try:
        async with rt.uow(readonly=True) as uow:
            actor, touch = await staff_sessions.session_actor(uow, sid)
        if touch:  # at most every TOUCH_EVERY per session: in use, its LIFETIME counts from now
            async with rt.uow() as uow:
                await staff_sessions.touch(uow, sid)
                await uow.commit()
            request.session["sid"] = sid  # and the cookie's: Starlette signs it again, with a new Max-Age
    except NotAuthenticated:
        request.session.clear()
        raise LoginRequired(str(request.url.path)) from None
    request.state.actor = actor
    return actor


StaffDep = Annotated[Actor, Depends(staff_actor)]


async def enforce_page(request: Request, rt: RuntimeDep) -> None:
    """Every page passes here first: its rule in ``accounts.access.ROUTES`` decides. Staff pages need a signed-in
    member (else the sign-in page) whose role grants the page (else a clear "not for your role" page, before
    any form is shown). Shop and sign-in pages go on; the shop's order pages check the buyer's proof."""
    path, rule = rule_of(route_rules_of(request.scope), request.scope)
    if rule is None:
        raise PermissionDenied(permission=f"undeclared route {request.method} {path or request.url.path}")
    if not rule.needs_staff:
        return
    actor = await staff_actor(request, rt)
    if not rule.admits(staff_permissions=actor.permissions):
        raise PermissionDenied(permission=rule.missing(actor.permissions))


def public_base(request: Request, rt: Runtime) -> str:
    """Where the buyer's browser reaches this server, for links it is sent back to (the gateway's return URL):
    PIAOWU_PUBLIC_URL when set (behind a proxy), else the address this request came in on — so a server on
    another port or address works without configuration."""
    if rt.settings.public_url_configured:
        return rt.settings.public_url
    return str(request.base_url).rstrip("/")
