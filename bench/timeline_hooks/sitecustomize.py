"""Per-order timestamps of a paid order's steps, for ``flash_sale.py --timeline`` only (never on a real server).

``flash_sale.py --timeline`` puts this folder first on the PYTHONPATH of the server and the gateway it starts and
sets ``FLASH_SALE_TRACE_DIR``; Python then imports this module at start-up in every process (uvicorn's workers
too), and it wraps a few functions of the application from outside to append one line per event to a file per
process: ``event <tab> key <tab> wall-clock time <tab> extra``. Without the variable it does nothing. The
application's code is not changed: every wrapper calls the original and only records when it was called or
returned. The events, in the order a paid order meets them:

- gateway: ``paid`` (the hosted page's pay returned: the trade and its queued notification committed),
  ``claimed`` (the drain's claim returned this message; extra = when the claim statement started),
  ``post0`` / ``post1`` (the notification's HTTP delivery started / got its answer);
- server: ``asgi`` (the notification's request reached the ASGI application: the lean lane, before the
  middleware and the body), ``notify0`` / ``notify1`` (the notification's endpoint entered / returned, its
  transaction committed),
  ``wake`` (this worker's listening connection got the order's NOTIFY; extra = pid and how many requests of this
  worker wait on it), ``hold0`` / ``hold1`` (the held status request entered / left ``waiting.hold``),
  ``read1`` (its first status read done; extra = the status it saw), ``final0`` / ``final1`` (the final read of
  the whole order).

Keys: the gateway's trade number (``paid``, ``claimed``, ``post*``, ``notify*``) or the order id (the rest);
the bench knows both for each order and merges them (``bench/timeline.py``).
"""

from __future__ import annotations

import os
import time
from typing import Any

_DIR = os.environ.get("FLASH_SALE_TRACE_DIR")
_ASGI_T0 = "flash_sale.asgi_t0"
_files: dict[int, Any] = {}


def _emit(event: str, key: str, extra: str = "", t: float | None = None) -> None:
    pid = os.getpid()
    f = _files.get(pid)
    if f is None:
        f = _files[pid] = open(os.path.join(_DIR or ".", f"{pid}.tsv"), "a", buffering=1)  # noqa: SIM115
    f.write(f"{event}\t{key}\t{time.time() if t is None else t:.6f}\t{extra}\n")


def _trade_of(payload: dict[str, Any]) -> str:
    return str((payload.get("notify") or {}).get("trade_no", "?"))


def _install() -> None:
    import json

    from piaowu.api.lean import LeanLane
    from piaowu.api.v1 import payments as payments_api
    from piaowu.core.events import Topic
    from piaowu.db import outbox
    from piaowu.db.wakeups import Wakeups
    from piaowu.orders import waiting
    from piaowu.payments import sandbox_gateway
    from piaowu.workers import outbox_dispatch

    pay = sandbox_gateway.pay

    async def traced_pay(session: Any, now: Any, trade_no: str, *args: Any, **kwargs: Any) -> Any:
        out = await pay(session, now, trade_no, *args, **kwargs)
        _emit("paid", trade_no)
        return out

    sandbox_gateway.pay = traced_pay  # type: ignore[assignment]

    claim = outbox.claim_batch

    async def traced_claim(*args: Any, **kwargs: Any) -> Any:
        started = time.time()
        out = await claim(*args, **kwargs)
        for msg in out:
            _emit("claimed", _trade_of(msg.payload), f"{started:.6f}")
        return out

    outbox.claim_batch = traced_claim  # type: ignore[assignment]

    deliver = outbox_dispatch.HANDLERS[Topic.SANDBOX_CALLBACK]

    async def traced_deliver(rt: Any, payload: dict[str, Any]) -> None:
        key = _trade_of(payload)
        _emit("post0", key)
        try:
            await deliver(rt, payload)
        finally:
            _emit("post1", key)

    outbox_dispatch.HANDLERS[Topic.SANDBOX_CALLBACK] = traced_deliver

    notify = payments_api.notify
    lane_call = LeanLane.__call__

    async def traced_lane(self: LeanLane, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":  # the ASGI application's first sight of the request (the lane's scope copies it)
            scope = {**scope, _ASGI_T0: time.time()}
        await lane_call(self, scope, receive, send)

    LeanLane.__call__ = traced_lane  # type: ignore[method-assign]

    async def traced_notify(provider: str, request: Any, rt: Any) -> Any:
        t0 = time.time()
        body = await request.body()  # Starlette keeps it: the endpoint reads the same bytes
        try:
            key = str(json.loads(body).get("trade_no", "?"))
        except ValueError:
            key = "?"
        if _ASGI_T0 in request.scope:
            _emit("asgi", key, t=request.scope[_ASGI_T0])
        _emit("notify0", key, t=t0)
        try:
            return await notify(provider, request, rt)
        finally:
            _emit("notify1", key)

    payments_api.notify = traced_notify  # type: ignore[assignment]

    on_notify = Wakeups._on_notify

    def traced_on_notify(self: Wakeups, conn: Any, pid: int, channel: str, payload: str) -> None:
        waiting_here = len(self._waiters.get(payload, ()))
        _emit("wake", payload, f"{os.getpid()}:{waiting_here}")
        on_notify(self, conn, pid, channel, payload)

    Wakeups._on_notify = traced_on_notify  # type: ignore[method-assign]

    hold = waiting.hold

    async def traced_hold(wakeups: Any, key: str, read: Any, wait_s: float, *, final: Any = None) -> Any:
        _emit("hold0", key)
        first = [True]

        async def traced_read() -> Any:
            out = await read()
            if first[0]:
                first[0] = False
                _emit("read1", key, str(out.status))
            return out

        async def traced_final() -> Any:
            _emit("final0", key)
            out = await final()
            _emit("final1", key)
            return out

        try:
            return await hold(wakeups, key, traced_read, wait_s, final=traced_final if final else None)
        finally:
            _emit("hold1", key)

    waiting.hold = traced_hold  # type: ignore[assignment]


if _DIR:
    _install()
