"""A revoked API token is refused at once by every worker of a real server (PostgreSQL, 2 workers, real TCP).

Both workers have the token cached (it bought, started payments and read statuses many times through each),
then the token is revoked by another process (this test's own runtime, as an admin on another host would): the
very next requests, whichever worker serves them — placing orders, starting payments, status reads held or not,
which all take the caller from the cache — are refused and write nothing.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from piaowu.accounts import service as accounts
from piaowu.orders.models import Order
from piaowu.payments.models import Payment
from tests.concurrency.test_http_races import _runtime, order_body
from tests.conftest import make_tenant
from tests.factories import on_sale_session, owner_actor
from tests.servers import fresh_pg_database, running_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def _count(rt, table=Order) -> int:  # noqa: ANN001
    async with rt.uow(readonly=True) as uow:
        return (await uow.session.execute(select(func.count()).select_from(table))).scalar_one()


def test_a_revoked_token_is_refused_by_every_worker_at_once(tmp_path):
    from piaowu.db.migrate import upgrade

    with fresh_pg_database() as db_url:
        upgrade(db_url)

        async def seed():  # noqa: ANN202
            rt = _runtime(db_url, tmp_path)
            try:
                tenant = await make_tenant(rt)
                sale = await on_sale_session(rt, await owner_actor(rt, tenant.owner_id), capacity=1000)
                async with rt.uow() as uow:
                    token, info = await accounts.create_token(
                        uow, None, organizer_id=tenant.organizer_id, name="pos", role="owner"
                    )
                    await uow.commit()
            finally:
                await rt.db.dispose()
            return sale, token, info.id, tenant

        sale, token, token_id, tenant = asyncio.run(seed())
        with running_server(db_url, workers=2, env={"PIAOWU_RUN_BACKGROUND_JOBS": "false"}) as base_url:

            async def scenario() -> None:
                rt = _runtime(db_url, tmp_path)
                body = order_body(sale.ticket_type_id)
                auth = {"Authorization": f"Bearer {token}"}
                limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
                try:
                    async with httpx.AsyncClient(base_url=base_url, headers=auth, limits=limits, timeout=30) as c:
                        # 40 requests on 16 connections: both workers verify and cache the token; then the
                        # routes that use the cache after placing an order (start payment, the status read).
                        warm = await asyncio.gather(*(c.post("/api/v1/orders", json=body) for _ in range(40)))
                        assert {r.status_code for r in warm} == {201}
                        ids = [r.json()["id"] for r in warm]
                        pay = {"provider": "sandbox"}
                        warm = await asyncio.gather(
                            *(c.post(f"/api/v1/orders/{i}/payments", json=pay) for i in ids[:10]),
                            *(c.get(f"/api/v1/orders/{i}/status") for i in ids[:10]),
                        )
                        assert {r.status_code for r in warm} == {200, 201}
                        before = await _count(rt), await _count(rt, Payment)
                        async with rt.uow() as uow:  # another process revokes it
                            actor = await owner_actor(rt, tenant.owner_id)
                            await accounts.revoke_token(uow, actor, token_id)
                            await uow.commit()
                        after = await asyncio.gather(
                            *(c.post("/api/v1/orders", json=body) for _ in range(40)),
                            *(c.get("/api/v1/orders") for _ in range(20)),
                            *(c.post(f"/api/v1/orders/{i}/payments", json=pay) for i in ids[10:30]),
                            *(c.get(f"/api/v1/orders/{i}/status", params={"wait": 5}) for i in ids[:20]),
                        )
                        assert Counter(r.status_code for r in after) == {401: 100}
                        assert (await _count(rt), await _count(rt, Payment)) == before
                finally:
                    await rt.db.dispose()

            asyncio.run(scenario())
