"""Run a creating POST at most once per ``Idempotency-Key``.

The key row is written in the same transaction as the order/payment/refund it protects. Two concurrent
requests with one key: both run, one commits, the other fails on the unique key at commit, rolls back (its
units are released with it) and answers with the stored response of the first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from piaowu.api.responses import OrjsonResponse
from piaowu.core.actor import Actor
from piaowu.core.errors import DomainError, IdempotencyInProgress
from piaowu.db import idempotency
from piaowu.db.uow import UnitOfWork
from piaowu.runtime import Runtime


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
    scope = f"{actor.organizer_id}:{actor.ref}:{route}"[:120]
    fingerprint = idempotency.request_fingerprint(body)
    async with rt.uow() as uow:
        seen = await idempotency.lookup(uow.session, scope, key, fingerprint)
        if seen is not None:
            return _replay(seen.status_code, seen.response)
        try:
            result = await use_case(uow)
        except DomainError:
            # A concurrent request with this key may have won what this one needed (the last units: this
            # one waited on the pool row until the winner committed). The client sent one request twice,
            # so it gets the winner's answer, not sold_out for its own order.
            await uow.rollback()
            winner = await _stored(rt, scope, key, fingerprint)
            if winner is None:
                raise
            return winner
        payload: dict[str, Any] = result.model_dump(mode="json")
        idempotency.remember(uow.session, uow.now(), scope, key, fingerprint, status_code, payload)
        try:
            await uow.commit()
        except IntegrityError:
            await uow.rollback()
        else:
            return OrjsonResponse(payload, status_code=status_code)
    winner = await _stored(rt, scope, key, fingerprint)  # lost the race: answer what the winner stored
    if winner is None:
        raise IdempotencyInProgress()
    return winner


async def _stored(rt: Runtime, scope: str, key: str, fingerprint: str) -> OrjsonResponse | None:
    async with rt.uow(readonly=True) as uow:
        seen = await idempotency.lookup(uow.session, scope, key, fingerprint)
    return None if seen is None else _replay(seen.status_code, seen.response)


def _replay(status_code: int, response: dict[str, Any]) -> OrjsonResponse:
    resp = OrjsonResponse(response, status_code=status_code)
    resp.headers["Idempotent-Replayed"] = "true"
    return resp
