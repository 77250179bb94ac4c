from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pypdf import PdfReader

from piaowu.core.ids import ticket_code
from piaowu.tickets import rendering, signing
from piaowu.tickets.rendering import TicketPrint
from tests.conftest import require_or_skip

EVENT = "周杰伦嘉年华世界巡回演唱会 Jay Chou Carnival"


def _print(n: int) -> TicketPrint:
    code = ticket_code()
    claims = signing.TicketClaims(code, "01ja" + "0" * 22, 1_780_000_000, 1_780_010_800, ("s:01jb" + "0" * 22,))
    payload = signing.sign(Ed25519PrivateKey.generate(), claims)
    return TicketPrint(
        event_name=EVENT,
        session_name="晚场 Evening",
        starts_at_local="2026-06-08 周一 Mon 19:30",
        ticket_type_name=f"A区 Zone A #{n}",
        price="¥1,280.00",
        order_code="PW8K3M2Q",
        holder_name="张三",
        code=code,
        qr_payload=payload,
        venue="国家体育场 National Stadium",
    )


def test_svg_and_png():
    svg = rendering.qr_svg("PW1.abc.def")
    assert svg.startswith("<?xml") and "<svg" in svg
    png = rendering.qr_png("PW1.abc.def", scale=3)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_scalable_svg_is_an_inline_fragment_that_fills_its_box():
    svg = rendering.qr_svg("PW1.abc.def", scalable=True)
    assert svg.startswith("<svg ") and 'class="qr-svg"' in svg and "viewBox=" in svg
    assert "width=" not in svg.split(">", 1)[0]  # sized by the page's CSS, not fixed pixels


def test_pdf_has_one_page_per_ticket_with_chinese_text_embedded(tmp_path: Path):
    tickets = [_print(i) for i in range(3)]
    pdf = rendering.ticket_pdf(tickets)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 3
    require_or_skip(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc").exists(), "fonts-wqy-zenhei")
    # The embedded CJK TrueType font, not the CID fallback that readers without the font show as boxes.
    assert rendering.cjk_font() != rendering.FALLBACK_CID
    fonts = {str(f["/BaseFont"]) for f in _fonts(reader)}
    assert any("PiaowuCJK" in f or "WenQuanYi" in f for f in fonts), fonts  # a TrueType subset, embedded
    require_or_skip(bool(shutil.which("pdftotext")), "pdftotext (poppler-utils)")
    path = tmp_path / "t.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(path), "-"], capture_output=True, text=True).stdout
    assert "周杰伦嘉年华世界巡回演唱会" in text and "A区 Zone A #1" in text and "张三" in text
    assert " ".join(tickets[1].code[i : i + 4] for i in range(0, 20, 4)) in text


def test_printed_qr_decodes_to_the_signed_payload(tmp_path: Path):
    require_or_skip(bool(shutil.which("pdftoppm") and shutil.which("zbarimg")), "pdftoppm and zbarimg")
    t = _print(0)
    (tmp_path / "t.pdf").write_bytes(rendering.ticket_pdf([t]))
    subprocess.run(["pdftoppm", "-r", "110", "-png", str(tmp_path / "t.pdf"), str(tmp_path / "p")], check=True)
    page = next(tmp_path.glob("p*.png"))
    out = subprocess.run(
        ["zbarimg", "-q", "--raw", "-Sdisable", "-Sqrcode.enable", str(page)], capture_output=True, text=True
    ).stdout.strip()
    assert out == t.qr_payload


def _fonts(reader: PdfReader) -> list:
    found = []
    for page in reader.pages:
        res = page["/Resources"]
        for f in res.get("/Font", {}).values():
            found.append(f.get_object())
    return found
