"""Issue 5 on a real server: started on a port that is not 8000 with only ``--port`` (as the README suggests),
a buyer pays through the sandbox gateway and ends with tickets — the gateway's callback and the buyer's return
both come back to that port. And when the callback is lost (a public URL that leads nowhere), the server's
periodic reconciliation recovers the payment by itself: the buyer holds tickets, the money is not kept.

HTTP only (no browser): the pages are driven as a browser would, forms with their hidden tokens.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.servers import api_session, prepared, running_server
from tests.web.helpers import hidden

pytestmark = pytest.mark.slow


def _session(base_url: str, token: str) -> tuple[str, str]:
    """An on-sale session of the demo organizer with one ticket type, made through the API. → (session, type)."""
    return api_session(
        base_url,
        token,
        event={"name": f"端口 Port {uuid.uuid4().hex[:6]}"},
        session_name="晚场 Evening",
        starts_in=timedelta(days=3),
        hours=2,
        capacity=10,
        ticket_type={"name": "普通票", "price_minor": 8800},
    )


def _buy_and_pay(base_url: str, session_id: str, ticket_type_id: str) -> tuple[str, httpx.Response]:
    """Buy one ticket in the web shop and pay on the gateway's page. → (order code, the gateway's answer)."""
    with httpx.Client(base_url=base_url, timeout=10) as browser:
        url = f"/s/demo/sessions/{session_id}"
        page = browser.get(url)
        assert page.status_code == 200, page.text
        form = {**hidden(page.text), f"qty_{ticket_type_id}": "1", "buyer_name": "王五", "buyer_phone": "13812345678"}
        made = browser.post(url, data=form)
        assert made.status_code == 303, made.text
        order_url = made.headers["location"]
        code = order_url.rstrip("/").rsplit("/", 1)[-1]
        pay = browser.post(f"{order_url}/pay", data={"csrf": hidden(browser.get(order_url).text)["csrf"]})
        assert pay.status_code == 303 and pay.headers["location"].startswith("/sandbox-gateway/pay/"), pay.text
        gateway = pay.headers["location"]
        gw = browser.get(gateway)
        assert gw.status_code == 200, gw.text
        return code, browser.post(f"{gateway}/confirm", data={"csrf": hidden(gw.text)["csrf"]})


def _wait_for_status(base_url: str, token: str, code: str, want: str, timeout_s: float) -> str:
    """Poll the order's status through the staff API (which never asks the gateway itself)."""
    deadline, status = time.monotonic() + timeout_s, ""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
        while time.monotonic() < deadline:
            (order,) = api.get("/api/v1/orders", params={"q": code}).json()["items"]
            status = order["status"]
            if status == want:
                return status
            time.sleep(0.3)
    return status


def test_a_server_started_with_only_a_port_takes_payments_end_to_end(tmp_path: Path) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'piaowu.db'}"
    _, token = prepared(db_url, tmp_path)
    assert token
    # Background reconciliation off here: the callback alone must do it.
    env = {"PIAOWU_RECONCILE_INTERVAL_SECONDS": "3600", "PIAOWU_RECONCILE_GRACE_SECONDS": "3600"}
    with running_server(db_url, workers=1, env=env, var_dir=tmp_path, set_public_url=False) as base_url:
        assert not base_url.endswith(":8000")
        session_id, ticket_type_id = _session(base_url, token)
        code, back = _buy_and_pay(base_url, session_id, ticket_type_id)

        # The buyer is sent back to this server, on its port...
        assert back.status_code == 303
        assert back.headers["location"].startswith(f"{base_url}/s/demo/orders/{code}")
        # ...and the gateway's callback reached it: paid without anyone asking the gateway.
        assert _wait_for_status(base_url, token, code, "paid", timeout_s=15) == "paid"
        time.sleep(4)  # the online start-up check has had its tries
        log = (tmp_path / "server.log").read_text(errors="replace")
        assert f"public URL (payment callbacks, returns from the gateway): {base_url}" in log
        assert "warning" not in log.lower()  # no start-up warning: the URL leads back here


def test_a_lost_callback_is_recovered_by_the_servers_reconciliation(tmp_path: Path) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'piaowu.db'}"
    _, token = prepared(db_url, tmp_path)
    assert token
    # A public URL that leads nowhere: every callback dies. Reconciliation runs every second here.
    env = {
        "PIAOWU_PUBLIC_URL": "http://127.0.0.1:9",
        "PIAOWU_RECONCILE_INTERVAL_SECONDS": "1",
        "PIAOWU_RECONCILE_GRACE_SECONDS": "1",
    }
    with running_server(db_url, workers=1, env=env, var_dir=tmp_path) as base_url:
        session_id, ticket_type_id = _session(base_url, token)
        code, back = _buy_and_pay(base_url, session_id, ticket_type_id)
        assert back.status_code == 303

        assert _wait_for_status(base_url, token, code, "paid", timeout_s=20) == "paid"
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as api:
            (item,) = api.get("/api/v1/orders", params={"q": code}).json()["items"]
            order = api.get(f"/api/v1/orders/{item['id']}").json()
        assert order["lines"][0]["ticket"] and order["payments"][0]["status"] == "succeeded"
        # The start-up checks said the public URL leads elsewhere: at once (a port of this machine that is not
        # ours), and once the server was up (nothing answers there).
        log = _log_once(tmp_path / "server.log", "does not answer", timeout_s=10)
        assert re.search(r"PIAOWU_PUBLIC_URL http://127\.0\.0\.1:9 points at port 9", log), log[-2000:]
        assert "the public URL http://127.0.0.1:9 does not answer" in log, log[-2000:]


def _log_once(path: Path, text: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        log = path.read_text(errors="replace")
        if text in log:
            return log
        time.sleep(0.3)
    return path.read_text(errors="replace")
