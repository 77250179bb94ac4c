"""Tickets on screen and on paper: QR codes (segno) and a printable PDF (reportlab), bilingual zh-CN / en.

Chinese text must survive any PDF reader, so a CJK TrueType font is embedded (subset) in the file. reportlab's
built-in ``STSong-Light`` is not embedded and shows empty boxes in readers without the font: it is used only
when no TrueType CJK font is installed, with a warning (Debian: ``apt install fonts-wqy-zenhei``).
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import segno
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

log = logging.getLogger("piaowu.tickets")

# TrueType-outline CJK fonts reportlab can embed, best first. (Noto Sans CJK .otf/.ttc have CFF outlines,
# which reportlab cannot embed; they are tried anyway in case a TrueType build is installed.)
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
FONT_ENV = "PIAOWU_CJK_FONT"  # an explicit path wins over the list above
FALLBACK_CID = "STSong-Light"


@dataclass(frozen=True)
class TicketPrint:
    """What is printed on one ticket, already formatted by the caller (rendering knows nothing of orders)."""

    event_name: str
    session_name: str
    starts_at_local: str  # e.g. "2026-06-08 19:30 (Asia/Shanghai)"
    ticket_type_name: str
    price: str  # e.g. "¥180.00"
    order_code: str
    holder_name: str
    code: str
    qr_payload: str
    venue: str = ""
    seat: str = ""  # an assigned seat in both languages ("A区 3排 12号 · Section A Row 3 Seat 12"); empty: none
    includes: str = ""  # a pass: what it admits to ("古镇 · 博物馆 ×2 · 园区 2 天/days"); empty for a plain ticket


def _qr(payload: str) -> segno.QRCode:
    # Level M: survives a scuffed print or a cracked phone screen, still a small code for ~260 characters.
    return segno.make_qr(payload, error="m")


def qr_svg(payload: str, scale: int = 4, *, scalable: bool = False) -> str:
    """A QR code as SVG, black on white with the quiet zone.

    By default a standalone document of ``scale`` pixels per module (the API's ``qr.svg``). ``scalable=True``
    gives a fragment to inline in a page: no XML declaration, no fixed size (a viewBox, so it fills its box)
    and ``class="qr-svg"`` for the stylesheet; the page adds its own accessible name."""
    buf = io.BytesIO()
    if scalable:
        _qr(payload).save(
            buf, kind="svg", border=4, xmldecl=False, svgns=True, omitsize=True, svgclass="qr-svg", lineclass=None
        )
    else:
        _qr(payload).save(buf, kind="svg", scale=scale, border=4, xmldecl=True, svgns=True, title="Ticket QR code")
    return buf.getvalue().decode("utf-8")


def qr_png(payload: str, scale: int = 6) -> bytes:
    buf = io.BytesIO()
    _qr(payload).save(buf, kind="png", scale=max(1, min(scale, 40)), border=4)
    return buf.getvalue()


def _candidates() -> list[Path]:
    paths = [Path(p) for p in ([os.environ[FONT_ENV]] if os.environ.get(FONT_ENV) else [])]
    paths += [Path(p) for p in FONT_CANDIDATES]
    for folder in ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/truetype/noto"):
        paths += sorted(Path(folder).glob("NotoSans*CJK*")) if Path(folder).is_dir() else []
    return paths


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """Registers and returns the name of the font used for tickets (embedded TrueType when possible)."""
    for path in _candidates():
        if not path.is_file():
            continue
        try:
            font = (
                TTFont("PiaowuCJK", str(path), subfontIndex=0)
                if path.suffix == ".ttc"
                else TTFont("PiaowuCJK", str(path))
            )
            pdfmetrics.registerFont(font)
        except Exception as exc:  # noqa: BLE001 - any unreadable font: try the next one
            log.info("CJK font %s not usable: %s", path, exc)
            continue
        return "PiaowuCJK"
    log.warning(
        "No embeddable CJK TrueType font found (install fonts-wqy-zenhei); tickets fall back to %s, "
        "which PDF readers without that font show as empty boxes",
        FALLBACK_CID,
    )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID))
    return FALLBACK_CID


def _draw_qr(c: Canvas, payload: str, x: float, y: float, size: float) -> None:
    """Vector QR (sharp at any print resolution): one path of rectangles, one per run of dark modules, filled
    at once so that readers draw no hairline seams between neighbouring modules."""
    matrix = [list(row) for row in _qr(payload).matrix]
    n = len(matrix)
    module = size / (n + 8)  # 4-module quiet zone on each side
    c.setFillColorRGB(1, 1, 1)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    path = c.beginPath()
    for r, row in enumerate(matrix):
        col = 0
        while col < n:
            if not row[col]:
                col += 1
                continue
            start = col
            while col < n and row[col]:
                col += 1
            path.rect(x + (4 + start) * module, y + size - (4 + r + 1) * module, (col - start) * module, module)
    c.drawPath(path, stroke=0, fill=1)


def _page(c: Canvas, font: str, t: TicketPrint) -> None:
    width, height = A6
    margin = 8 * mm
    inner = width - 2 * margin
    y = height - margin

    c.setFillColorRGB(0.1, 0.1, 0.1)
    c.setFont(font, 8)
    c.drawString(margin, y - 8, "电子票 · E-TICKET")
    c.drawRightString(width - margin, y - 8, t.order_code and f"订单 Order {t.order_code}")
    y -= 14

    c.setFont(font, 14)
    for line in simpleSplit(t.event_name or "-", font, 14, inner)[:3]:
        y -= 16
        c.drawString(margin, y, line)
    y -= 6

    rows = [
        ("场次 Session", t.session_name),
        ("时间 Time", t.starts_at_local),
        ("场馆 Venue", t.venue),
        ("票种 Ticket", t.ticket_type_name),
        ("座位 Seat", t.seat),
        ("包含 Includes", t.includes),
        ("票价 Price", t.price),
        ("持票人 Holder", t.holder_name),
    ]
    for label, value in rows:
        if not value:
            continue
        y -= 12
        c.setFont(font, 7)
        c.setFillColorRGB(0.35, 0.35, 0.35)
        c.drawString(margin, y, label)
        c.setFillColorRGB(0.05, 0.05, 0.05)
        c.setFont(font, 9.5)
        for i, line in enumerate(simpleSplit(value, font, 9.5, inner - 24 * mm)[:2]):
            if i:
                y -= 11
            c.drawString(margin + 24 * mm, y, line)

    qr_size = min(inner, y - margin - 22)
    qr_x = (width - qr_size) / 2
    qr_y = margin + 18
    _draw_qr(c, t.qr_payload, qr_x, qr_y, qr_size)

    c.setFont(font, 9)
    c.setFillColorRGB(0, 0, 0)
    grouped = " ".join(t.code[i : i + 4] for i in range(0, len(t.code), 4))
    c.drawCentredString(width / 2, margin + 8, grouped)
    c.setFont(font, 6.5)
    c.setFillColorRGB(0.35, 0.35, 0.35)
    c.drawCentredString(width / 2, margin, "入场时出示此码 · Show this code at the entrance")


def ticket_pdf(tickets: Sequence[TicketPrint], *, title: str = "Tickets") -> bytes:
    """One A6 page per ticket: event, session time, venue, ticket type, price, order, holder, QR and code."""
    font = cjk_font()
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A6, pageCompression=1)
    c.setTitle(title)
    c.setAuthor("Piaowu")
    for t in tickets:
        _page(c, font, t)
        c.showPage()
    c.save()
    return buf.getvalue()
