"""Request dependencies for the JSON API: runtime, caller identity, pagination, idempotency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from piaowu.accounts import service as accounts
from piaowu.core.actor import Actor
from piaowu.core.errors import NotAuthenticated
from piaowu.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_actor(
    request: Request, rt: RuntimeDep, authorization: Annotated[str | None, Header()] = None
) -> Actor:
    """Bearer API token → Actor scoped to the token's organizer. Every API query is filtered by it."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise NotAuthenticated()
    token = authorization[7:].strip()
    async with rt.uow(readonly=True) as uow:
        check = await accounts.check_token(uow, token)
    if check.use_due:  # at most once a minute per token, in its own short transaction
        async with rt.uow() as uow:
            await accounts.record_token_use(uow, check.actor.id)
            await uow.commit()
    actor = check.actor
    request.state.actor = actor
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
