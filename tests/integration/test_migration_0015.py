"""Migration 0015 (refunds.error, refunds.outbox_id) on SQLite and PostgreSQL, with refunds in every state in the
database: back at 0014 the columns are gone; coming up again, a refused refund gets the provider's answer back
from its audit event and a pending one the outbox message asking for it — so one whose message gave up shows as
stuck and is retried, and one still queued is not."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from piaowu.app import create_app
from piaowu.db.migrate import downgrade, upgrade_async
from piaowu.db.outbox import OutboxMessage
from piaowu.payments.models import Refund
from piaowu.runtime import build_runtime
from tests.conftest import make_settings, make_tenant
from tests.integration.test_refund_retry import Gateway, give_up, listed, refunded_online, retry
from tests.order_helpers import drain


async def test_refunds_carry_through_0015_down_and_up(
    own_url: str, tmp_path: Path, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = build_runtime(make_settings(tmp_path, own_url), clock=clock)
    app = create_app(runtime=rt)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        try:
            tenant = await make_tenant(rt)
            refused = await refunded_online(rt, app, client, tenant)
            gateway = Gateway(monkeypatch, "refuse")
            assert await drain(rt) == 1
            stuck = await refunded_online(rt, app, client, tenant)
            gateway.mode = "unreachable"
            await give_up(rt, clock)
            queued = await refunded_online(rt, app, client, tenant)  # its message not run yet
            async with rt.uow(readonly=True) as uow:
                dead, waiting = [
                    (await uow.session.execute(select(Refund.outbox_id).where(Refund.id == o["refund_id"]))).scalar()
                    for o in (stuck, queued)
                ]
                assert (await uow.session.get(OutboxMessage, dead)).status == "dead"
            await rt.db.dispose()

            await asyncio.to_thread(downgrade, own_url, "0014")
            await rt.db.dispose()
            await upgrade_async(own_url)

            async with rt.uow(readonly=True) as uow:
                rows = {
                    r.id: (r.status, r.error, r.outbox_id)
                    for r in (await uow.session.execute(select(Refund))).scalars()
                }
            assert rows[refused["refund_id"]] == ("failed", "merchant balance too low", None)
            assert rows[stuck["refund_id"]] == ("pending", "", dead)
            assert rows[queued["refund_id"]] == ("pending", "", waiting)
            shown = {r["id"]: r for o in (refused, stuck, queued) for r in await listed(client, tenant, o["id"])}
            assert [
                (shown[o["refund_id"]]["stuck"], shown[o["refund_id"]]["retryable"]) for o in (refused, stuck, queued)
            ] == [
                (False, True),
                (True, True),
                (False, False),
            ]
            gateway.mode = "up"
            assert (await retry(client, stuck["refund_id"], tenant.auth)).status_code == 200
            assert (await retry(client, queued["refund_id"], tenant.auth)).status_code == 409
            assert await drain(rt) == 2  # the retried refund and the one that was queued all along
            assert {r["status"] for o in (stuck, queued) for r in await listed(client, tenant, o["id"])} == {
                "succeeded"
            }
        finally:
            await rt.aclose()
