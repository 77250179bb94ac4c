"""Generated requests against our own OpenAPI document (schemathesis): none may get a 5xx.

SQLite only, a few examples per operation, so it stays well under a minute. Every operation is called with an
owner's token, so the generator gets past authentication into validation and the services.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from piaowu.core.clock import FrozenClock
from piaowu.db.engine import create_database
from piaowu.runtime import Runtime, build_runtime
from tests.conftest import make_settings, make_tenant
from tests.factories import on_sale_session, owner_actor


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path):  # noqa: ANN201
    from datetime import UTC, datetime

    from piaowu.app import create_app

    folder = tmp_path_factory.mktemp("schemathesis")
    shutil.copy(sqlite_template, folder / "piaowu.db")
    url = f"sqlite+aiosqlite:///{folder / 'piaowu.db'}"
    rt: Runtime = build_runtime(
        make_settings(folder, url), clock=FrozenClock(datetime(2026, 6, 1, 2, 0, tzinfo=UTC)), db=create_database(url)
    )

    async def seed() -> str:
        tenant = await make_tenant(rt, slug="fuzz")
        await on_sale_session(rt, await owner_actor(rt, tenant.owner_id), capacity=1000)
        await rt.db.dispose()  # the app runs in the test client's own event loop: no connection may cross over
        return tenant.token

    token = asyncio.run(seed())
    yield create_app(runtime=rt), token
    asyncio.run(rt.db.dispose())


def test_no_generated_request_gets_a_server_error(api):  # noqa: ANN001
    app, token = api
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    auth = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case) -> None:  # noqa: ANN001
            response = case.call(headers=auth)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}")

        call()
    assert not failures, "\n".join(failures)
