"""Request dependencies for the JSON API: runtime, caller identity, pagination, idempotency."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request

from piaowu.accounts import service as accounts
from piaowu.appscope import route_rules_of, runtime_of
from piaowu.core.actor import Actor
from piaowu.core.errors import NotAuthenticated, PermissionDenied
from piaowu.organizers import service as organizers
from piaowu.organizers.service import OrganizerInfo
from piaowu.routes import rule_of
from piaowu.runtime import Runtime

F = TypeVar("F", bound=Callable[..., object])


async def get_runtime(request: Request) -> Runtime:
    # ``async``: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop per request.
    return runtime_of(request.scope)


def token_rechecked(endpoint: F) -> F:
    """Marks a route whose use case re-verifies the API token (``accounts.token_checks``) in the first statement
    it runs, before it writes, asks a provider or answers anything — placing an order (its one statement),
    starting a payment (its order read) and the order's status read: its caller may be identified from this
    process's token cache without a read. Only without an ``Idempotency-Key`` (a key's stored answer is
    replayed before any statement runs)."""
    endpoint.token_rechecked = True  # type: ignore[attr-defined]
    return endpoint


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_actor(
    request: Request, rt: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> Actor:
    """Bearer API token → Actor scoped to the token's organizer. Every API query is filtered by it."""
    known = getattr(request.state, "actor", None)
    if known is not None:  # already identified by ``enforce_route`` for this request
        return known
    if not authorization or not authorization.lower().startswith("bearer "):
        raise NotAuthenticated()
    token = authorization[7:].strip()
    async with rt.uow(readonly=True, autocommit=True) as uow:  # one read: no BEGIN … ROLLBACK around it
        check = await accounts.check_token(uow, token)
    if check.use_due:  # at most once a minute per token, in its own short transaction
        async with rt.uow() as uow:
            await accounts.record_token_use(uow, check.actor.id)
            await uow.commit()
    actor = check.actor
    request.state.actor = actor
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


async def enforce_route(
    request: Request, rt: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Every API route passes here first: its rule in ``accounts.access.ROUTES`` decides. Public routes go on;
    the others need a valid token (401) whose role grants the route (403). A route without a rule is refused."""
    path, rule = rule_of(route_rules_of(request.scope), request.scope)
    if rule is None:
        raise PermissionDenied(permission=f"undeclared route {request.method} {path or request.url.path}")
    if not rule.needs_staff:
        return
    actor = None
    if (
        authorization
        and authorization[:7].lower() == "bearer "
        and getattr(getattr(request.scope.get("route"), "endpoint", None), "token_rechecked", False)
        and "idempotency-key" not in request.headers
    ):
        actor = accounts.cached_token_actor(authorization[7:].strip())
        request.state.actor = actor
    if actor is None:
        actor = await current_actor(request, rt, authorization)
    elif not rule.admits(staff_permissions=actor.permissions):
        # Refused on the cache's word: the use case's own re-check never runs, so verify the token now — a token
        # revoked since it was cached is told 401 (sign in again), not 403 (ask for another role).
        request.state.actor = None
        actor = await current_actor(request, rt, authorization)
    if not rule.admits(staff_permissions=actor.permissions):
        raise PermissionDenied(permission=rule.missing(actor.permissions))


async def shop_organizer(rt: Runtime, slug: str) -> OrganizerInfo:
    """The shop's organizer by its slug (``not_found`` when none), shared per process for ``shop_cache_seconds``
    like the shop's other answers: every order and availability ask of a sale starts here, and each read was a
    transaction of its own. A slug names one organizer for good (unique, never renamed, organizers are not
    deleted), so only the other fields can be that stale; an unknown slug is read again each time."""

    async def read() -> OrganizerInfo:
        async with rt.uow(readonly=True, autocommit=True) as uow:  # one read: no BEGIN … ROLLBACK around it
            return await organizers.get_by_slug(uow, slug)

    return await rt.shop_cache.get(("organizer", slug), read)


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
