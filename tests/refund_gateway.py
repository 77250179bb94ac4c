"""A payment provider whose refunds answer as a test says (refused, unreachable, paid but the answer lost), and
calls that meet before reaching the sandbox: for the tests of online refunds (retries, seat exchanges)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from piaowu.payments import service as payments
from piaowu.payments.providers.base import RefundResult


class Gateway:
    """The sandbox provider with its refunds answered as ``mode`` says: "up" (the real sandbox), "refuse" (it
    answers no), "unreachable" (the call fails on the network), "lost" (the sandbox pays, then the answer is
    lost on the way back). ``meet``: that many calls wait for each other before going on to the sandbox, so they
    reach it at the same moment."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, mode: str = "up") -> None:
        self.mode, self.asked, self.meet, self.met = mode, 0, 0, False
        self._arrived: list[asyncio.Event] = []
        real = payments.provider
        monkeypatch.setattr(payments, "provider", lambda uow, name: _Stub(real(uow, name), self))

    async def rendezvous(self) -> None:
        if not self.meet:
            return
        here = asyncio.Event()
        self._arrived.append(here)
        if len(self._arrived) == self.meet:
            self.met = True
            for e in self._arrived:
                e.set()
        try:
            await asyncio.wait_for(here.wait(), timeout=5)
        except TimeoutError:  # the other never came: go on (the test then fails on ``met``)
            pass


class _Stub:
    def __init__(self, inner: Any, gateway: Gateway) -> None:
        self.inner, self.gateway = inner, gateway

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def refund(self, *args: Any) -> RefundResult:
        gw = self.gateway
        gw.asked += 1
        await gw.rendezvous()
        if gw.mode == "refuse":
            return RefundResult(False, error="merchant balance too low")
        if gw.mode == "unreachable":
            raise httpx.ConnectError("the gateway cannot be reached")
        result = await self.inner.refund(*args)
        if gw.mode == "lost":
            await args[0].commit()  # the gateway's own books (the sandbox keeps them in this session): paid out
            await asyncio.sleep(0.05)  # the answer is slow, then lost
            raise httpx.ReadTimeout("no answer from the gateway")
        return result
