"""A database that is busy — a lock not granted in time, its connection slots full, our pool empty — is a
retryable 503 with Retry-After on the API and on pages, never a 500: nothing was written, the same request may
succeed a moment later. Other failures stay 500s (logged)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from piaowu.catalog import event_service
from piaowu.db.engine import is_busy

TOO_MANY = OperationalError("SELECT 1", {}, Exception("sorry, too many clients already"))
POOL_EMPTY = PoolTimeout("QueuePool limit of size 16 overflow 16 reached, connection timed out, timeout 30.00")
LOCK = OperationalError("UPDATE", {}, Exception("canceling statement due to lock timeout"))


@pytest.fixture
async def served(app) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ANN001
    """As a browser sees the server: an error the app handled arrives as its answer (the in-process transport
    would otherwise re-raise what Starlette's outermost middleware re-raises after answering, for logging)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.mark.parametrize("exc", [TOO_MANY, POOL_EMPTY, LOCK, ConnectionRefusedError(111, "Connection refused")])
def test_what_counts_as_busy(exc: BaseException) -> None:
    assert is_busy(exc)


def test_a_fault_is_not_busy() -> None:
    assert not is_busy(OperationalError("SELECT", {}, Exception('relation "x" does not exist')))
    assert not is_busy(ValueError("bad"))


@pytest.mark.parametrize("exc", [TOO_MANY, POOL_EMPTY], ids=["too_many_clients", "pool_empty"])
async def test_the_api_and_the_shop_page_answer_503_busy(served, tenant, monkeypatch, exc):  # noqa: ANN001
    async def refuse(*_: object, **__: object) -> None:
        raise exc

    monkeypatch.setattr(event_service, "published_events", refuse)

    r = await served.get(f"/api/v1/shop/{tenant.slug}/events")
    assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
    assert r.headers["content-type"].startswith("application/problem+json") and r.json()["code"] == "busy"

    page = await served.get(f"/s/{tenant.slug}?lang=en")
    assert page.status_code == 503 and page.headers["retry-after"] == "1"
    assert "text/html" in page.headers["content-type"] and "busy" in page.text


async def test_any_other_failure_is_still_a_500_page_not_a_bare_text(served, tenant, monkeypatch):  # noqa: ANN001
    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(event_service, "published_events", broken)
    page = await served.get(f"/s/{tenant.slug}?lang=en")
    assert page.status_code == 500 and "text/html" in page.headers["content-type"]
