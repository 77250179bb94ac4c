"""The gate's camera where the browser has no BarcodeDetector (iOS Safari, Firefox, desktop Chrome): a ticket's
QR code held up to the camera is decoded by jsQR (npm, served from /static/vendor) and checked in.

Chromium's fake camera plays a video of the ticket's real QR code (Y4M written here from the signed payload);
BarcodeDetector is removed from the page first, so the fallback is what reads it whatever the browser has.
Before jsQR the camera button stayed hidden on such browsers and the attendant had to type the code.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import segno

from piaowu import vendor
from piaowu.config import Settings
from piaowu.demo import DEMO_LOGINS
from piaowu.tickets import signing
from tests.browser import ARTIFACTS, CHROMIUM_ARGS, chromium_path, open_gate
from tests.conftest import require_or_skip
from tests.servers import LiveServer, api_box_office_ticket, tonight_session

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTH, HEIGHT, FRAMES = 640, 480, 5


def qr_video(payload: str, path: Path) -> None:
    """A few frames of a 4:2:0 Y4M video (what chromium's fake camera plays): the QR code, black on white, in the
    middle of a grey frame, as a phone held at arm's length might see a ticket."""
    matrix = [list(row) for row in segno.make(payload, error="m", micro=False).matrix_iter(scale=1, border=4)]
    cell = min(WIDTH, HEIGHT) * 8 // 10 // len(matrix)
    size = cell * len(matrix)
    left, top = (WIDTH - size) // 2, (HEIGHT - size) // 2
    luma = bytearray([160]) * (WIDTH * HEIGHT)
    for y in range(size):
        row = matrix[y // cell]
        line = bytes(16 if row[x // cell] else 235 for x in range(size))
        start = (top + y) * WIDTH + left
        luma[start : start + size] = line
    chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(FRAMES):
            out.write(b"FRAME\n" + bytes(luma) + chroma + chroma)


def _ticket(server: LiveServer) -> tuple[str, str]:
    """A ticket sold at the box office for a session whose admission is open. → (session id, QR payload)."""
    session_id, ticket_type_id = tonight_session(server, f"扫码入场 Camera entry {uuid.uuid4().hex[:6]}")
    return session_id, api_box_office_ticket(server.base_url, server.demo_token, ticket_type_id)["qr_payload"]


def test_a_qr_code_shown_to_the_camera_is_checked_in_without_barcode_detector(
    live_server: LiveServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    path = chromium_path()
    require_or_skip(path is not None, "chromium (/usr/bin/chromium, Debian package 'chromium')")
    require_or_skip(
        vendor.available(Settings().browser_packages_dir, "jsqr"), "the npm package jsqr (npm ci --ignore-scripts)"
    )
    session_id, payload = _ticket(live_server)
    assert payload.startswith(signing.PAYLOAD_PREFIXES), payload
    video = tmp_path / "ticket-qr.y4m"
    qr_video(payload, video)

    camera = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    gate_login = next(x for x in DEMO_LOGINS if x.role == "gate")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=[*CHROMIUM_ARGS, *camera])
        try:
            context = browser.new_context(
                locale="zh-CN", viewport={"width": 412, "height": 915}, permissions=["camera"]
            )
            context.set_default_timeout(10_000)
            context.add_init_script("delete window.BarcodeDetector; delete Window.prototype.BarcodeDetector;")
            gp = context.new_page()
            errors: list[str] = []
            gp.on("console", lambda m: m.type == "error" and errors.append(m.text))
            gp.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
            open_gate(
                gp, live_server.url("/gate"), gate_login.email, gate_login.password, "东门 East gate", [session_id]
            )

            assert gp.evaluate("'BarcodeDetector' in window") is False
            button = gp.locator("#gate-camera")
            expect(button).to_be_visible()  # hidden before: no BarcodeDetector, no camera
            button.click()
            result = gp.locator("#gate-result-box .gate-result").first
            expect(result).to_have_attribute("data-result", "admitted", timeout=15_000)
            expect(gp.locator("#gate-video")).to_be_visible()
            ARTIFACTS.mkdir(exist_ok=True)
            gp.screenshot(path=str(ARTIFACTS / "gate-camera--admitted.png"), full_page=True)
            # The code stays in view past the green result and the 3 s repeat window: still one presentation,
            # no "already checked in" in red for the ticket just admitted.
            gp.wait_for_timeout(4_500)
            expect(gp.locator("#gate-in")).to_have_text("1")
            assert gp.locator("#gate-recent-list li").count() == 1
            assert gp.locator("#gate-result-box [data-result=already_checked_in]").count() == 0
            assert errors == [], errors
        finally:
            browser.close()


def test_a_scanner_that_sends_no_enter_checks_in_the_current_payload(tabs, live_server: LiveServer) -> None:  # noqa: ANN001
    """A keyboard-wedge scanner set up without a final Enter: a complete signed payload submits itself. The page
    knew only ``PW1.`` — every ticket signed since passes (``PW2.``) waited for an Enter that never came."""
    from playwright.sync_api import expect

    session_id, payload = _ticket(live_server)
    gate_login = next(x for x in DEMO_LOGINS if x.role == "gate")
    staff = tabs(locale="en", viewport=(412, 915))
    gp = staff.page
    open_gate(gp, live_server.url("/gate"), gate_login.email, gate_login.password, "West gate", [session_id])
    gp.locator("#gate-raw").press_sequentially(payload)  # key by key, as a scanner types; no Enter
    result = gp.locator("#gate-result-box .gate-result").first
    expect(result).to_have_attribute("data-result", "admitted")
    assert staff.errors == []
