"""Statements, transactions and CPU per step of one paid order, in-process (ASGI app, PostgreSQL).

    .venv/bin/python bench/order_steps.py [--orders 100]

Drives the same steps as ``flash_sale.py --mode paid``, one order at a time, through the app in this process
(httpx's ASGI transport; the outbox is drained here, its HTTP notification going back into the app), and counts
with SQLAlchemy engine events the statements each step sends and the CPU it takes (``time.process_time``, so the
in-process HTTP client is included). Where ``flash_sale.py`` says how fast, this says where a paid order's work
goes. Creates and drops its own database.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flash_sale as fs  # noqa: E402

STEPS = ["create", "start_payment", "gateway_pay", "outbox_notify", "paid_order"]


async def measure(n: int, var: Path) -> None:
    from piaowu.app import create_app
    from piaowu.config import Settings
    from piaowu.db import driver
    from piaowu.db.migrate import upgrade_async
    from piaowu.runtime import build_runtime
    from piaowu.workers import outbox_dispatch

    dbname = f"piaowu_steps_{uuid.uuid4().hex[:8]}"
    await fs.admin(f'CREATE DATABASE "{dbname}"')
    try:
        secret, url = "bench-secret-" + uuid.uuid4().hex, fs.pg_url(dbname, "postgresql+asyncpg")
        await upgrade_async(url)
        token, types = await fs.seed(url, var, secret, {"paid": n + 10}, ["paid"])
        settings = Settings(
            database_url=url,
            var_dir=var,
            secret_key=secret,
            run_background_jobs=False,
            public_url="http://app",
            allowed_return_origins=["http://shop.invalid"],  # the return_url below
        )
        rt = build_runtime(settings)
        app = create_app(runtime=rt)

        def client() -> httpx.AsyncClient:
            return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")

        rt.extras["http_client"] = client
        counts: Counter[tuple[str, str]] = Counter()
        cpu: Counter[str] = Counter()
        current = ["-"]
        engine = rt.db.write_engine.sync_engine

        @event.listens_for(engine, "before_cursor_execute")
        def _stmt(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            counts[(current[0], statement.split(None, 1)[0].upper())] += 1

        def _tx(conn: Any, name: str) -> None:
            # An autocommit connection (the reservation, single-statement reads) sends no BEGIN/COMMIT/ROLLBACK:
            # SQLAlchemy still fires the events, so they are not counted as statements.
            if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                counts.update([(current[0], name.upper())])

        for name in ("begin", "commit", "rollback"):
            event.listen(engine, name, lambda conn, name=name: _tx(conn, name))
        # The reservation goes on the driver's own connection (db/driver.py), past SQLAlchemy's events.
        on_driver = driver.fetchrow

        async def _driver_stmt(session: Any, sql: str, params: Any) -> Any:
            counts[(current[0], sql.split(None, 1)[0].upper())] += 1
            return await on_driver(session, sql, params)

        driver.fetchrow = _driver_stmt

        async def step(name: str, work: Any) -> Any:
            current[0], started = name, time.process_time()
            result = await work
            cpu[name] += time.process_time() - started
            current[0] = "-"
            return result

        body = {"items": [{"ticket_type_id": types["paid"], "quantity": 1}], "buyer": fs.BUYER}
        auth = {"Authorization": f"Bearer {token}"}
        csrf = None
        async with client() as c:
            for i in range(n + 3):  # three warm-up orders
                if i == 3:
                    counts.clear()
                    cpu.clear()
                r = await step("create", c.post("/api/v1/orders", json=body, headers=auth))
                order_id = r.json()["id"]
                pay = {"provider": "sandbox", "return_url": "http://shop.invalid/back"}
                r = await step("start_payment", c.post(f"/api/v1/orders/{order_id}/payments", json=pay, headers=auth))
                trade = r.json()["redirect_url"].rsplit("/", 1)[-1]
                if csrf is None:
                    page = (await c.get(f"/sandbox-gateway/pay/{trade}")).text
                    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
                r = await step("gateway_pay", c.post(f"/sandbox-gateway/pay/{trade}/confirm", data={"csrf": csrf}))
                assert r.status_code == 303, r.text[:300]
                await step("outbox_notify", outbox_dispatch.drain(rt))
                # what the buyer's waiting page asks (held; here already paid, so answered at once): the status
                # with the order, tickets included
                status = f"/api/v1/orders/{order_id}/status?wait=20&with_order=true"
                r = await step("paid_order", c.get(status, headers=auth))
                assert r.json()["order"]["status"] == "paid", r.text[:300]
        print(f"per paid order, mean of {n}: CPU ms (this process), statements by kind")
        for name in STEPS:
            kinds = {k: round(v / n, 1) for (s, k), v in sorted(counts.items()) if s == name}
            total = sum(v for (s, _), v in counts.items() if s == name) / n
            print(f"{name:14s} {1000 * cpu[name] / n:7.2f} ms {total:6.1f} statements  {kinds}")
        await rt.db.dispose()
    finally:
        await fs.admin(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100)
    args = parser.parse_args()
    with TemporaryDirectory(prefix="piaowu-steps-") as tmp:
        asyncio.run(measure(args.orders, Path(tmp)))


if __name__ == "__main__":
    main()
