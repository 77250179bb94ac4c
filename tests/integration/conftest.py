"""Fixtures of the integration tests."""

from __future__ import annotations

import pytest

from piaowu.db.migrate import downgrade


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> str:  # noqa: ANN001
    """An empty database of each kind, for migration tests to take to the version they start from."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    url = request.getfixturevalue("pg_url")
    downgrade(url, "base")  # pg_url comes migrated; start from nothing
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def own_url(request: pytest.FixtureRequest) -> str:
    """A migrated database of this test's own: the test moves its schema up and down."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
