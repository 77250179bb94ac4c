"""End-to-end tests: the real server in a subprocess (tests/servers.py) driven by chromium (tests/browser.py)."""

from tests.browser import browser, pytest_runtest_makereport, tabs  # noqa: F401
from tests.servers import live_server, pg_live_server  # noqa: F401
