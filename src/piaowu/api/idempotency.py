"""Run a creating POST at most once per ``Idempotency-Key``.

The key row is written in the same transaction as the order/payment/refund it protects. Two concurrent
requests with one key: both run, one commits, the other fails on the unique key at commit, rolls back (its
units are released with it) and answers with the stored response of the first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from piaowu.api.responses import OrjsonResponse
from piaowu.core.actor import Actor
from piaowu.core.errors import IdempotencyInProgress
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
) -> OrjsonResponse:
    if not key:
        async with rt.uow() as uow:
            result = await use_case(uow)
            await uow.commit()
        return OrjsonResponse(jsonable_encoder(result), status_code=status_code)
    scope = f"{actor.organizer_id}:{actor.ref}:{route}"[:120]
    fingerprint = idempotency.request_fingerprint(body)
    async with rt.uow() as uow:
        seen = await idempotency.lookup(uow.session, scope, key, fingerprint)
        if seen is not None:
            return _replay(seen.status_code, seen.response)
        result = await use_case(uow)
        payload: dict[str, Any] = jsonable_encoder(result)
        idempotency.remember(uow.session, uow.now(), scope, key, fingerprint, status_code, payload)
        try:
            await uow.commit()
        except IntegrityError:
            await uow.rollback()
        else:
            return OrjsonResponse(payload, status_code=status_code)
    async with rt.uow(readonly=True) as uow:  # lost the race: answer what the winner stored
        seen = await idempotency.lookup(uow.session, scope, key, fingerprint)
    if seen is None:
        raise IdempotencyInProgress()
    return _replay(seen.status_code, seen.response)


def _replay(status_code: int, response: dict[str, Any]) -> OrjsonResponse:
    resp = OrjsonResponse(response, status_code=status_code)
    resp.headers["Idempotent-Replayed"] = "true"
    return resp
