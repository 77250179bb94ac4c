"""End-to-end tests: the real server in a subprocess (tests/servers.py) driven by chromium (tests/browser.py).

Tests here are sync (see tests/browser.py for why).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser import browser, pytest_runtest_makereport, tabs  # noqa: F401
from tests.servers import live_server, pg_live_server  # noqa: F401


@pytest.fixture(autouse=True)
def _server_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failed test's report ends with the server's last log lines (a 500's traceback is there)."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed:
        return
    for name in ("live_server", "pg_live_server"):
        if name in request.fixturenames:
            log = request.getfixturevalue(name).log_path
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            print(f"--- last lines of {name} log ({log}) ---", *lines[-60:], sep="\n")
