"""Run a creating POST at most once per ``Idempotency-Key``: the HTTP side of ``db.idempotency.run_once`` (the one
implementation, shared with the shop's form tokens), which writes the key in the same transaction as the
order/payment/refund it protects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from piaowu.api.responses import OrjsonResponse
from piaowu.core.actor import Actor
from piaowu.db import idempotency
from piaowu.db.uow import UnitOfWork
from piaowu.runtime import Runtime

T = TypeVar("T")


async def run_once(
    rt: Runtime,
    actor: Actor,
    route: str,
    key: str | None,
    body: bytes,
    use_case: Callable[[UnitOfWork], Awaitable[BaseModel]],
    status_code: int = 201,
    *,
    single_statement: bool = False,
) -> OrjsonResponse:
    """``single_statement``: the use case writes everything in one statement (placing an order), so without
    a key it runs in autocommit mode and the hot pool row is locked only while that statement runs. With a
    key, the key's row must commit with it, so it runs in a transaction (a little longer under the lock)."""
    if not key:
        async with rt.uow(autocommit=single_statement) as uow:
            result = await use_case(uow)
            await uow.commit()
        return OrjsonResponse(result.model_dump(mode="json"), status_code=status_code)
    scope = _scope(actor, route)

    async def run(uow: UnitOfWork) -> dict[str, Any]:
        return (await use_case(uow)).model_dump(mode="json")

    answer = await idempotency.run_once(rt.uow, scope, key, idempotency.request_fingerprint(body), status_code, run)
    return _respond(answer)


async def run_once_after(
    rt: Runtime,
    actor: Actor,
    route: str,
    key: str | None,
    body: bytes,
    first: Callable[[], Awaitable[T]],
    then: Callable[[UnitOfWork, T], Awaitable[BaseModel]],
    status_code: int = 201,
    *,
    single_statement: bool = False,
) -> OrjsonResponse:
    """``run_once`` for a use case with a step that must run outside any transaction of ours (a provider's
    network call): a stored answer for the key is replayed before that step runs; otherwise ``first`` runs, then
    ``then`` runs at most once per key in its own transaction (``single_statement``: as for ``run_once``)."""
    if key:
        scope = _scope(actor, route)
        seen = await idempotency.stored(rt.uow, scope, key, idempotency.request_fingerprint(body))
        if seen is not None:
            return _respond(seen)
    value = await first()
    return await run_once(
        rt, actor, route, key, body, lambda uow: then(uow, value), status_code, single_statement=single_statement
    )


def _scope(actor: Actor, route: str) -> str:
    return f"{actor.organizer_id}:{actor.ref}:{route}"[:120]


def _respond(answer: idempotency.Answer) -> OrjsonResponse:
    resp = OrjsonResponse(answer.response, status_code=answer.status_code)
    if answer.replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    return resp
