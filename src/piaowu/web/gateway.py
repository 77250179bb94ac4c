"""The sandbox gateway's hosted payment page: what a buyer sees on the gateway's site between "pay" in the shop
and the return to it. Clearly a test gateway (own branding and colours). Paying queues the gateway's signed
notification to the merchant (the outbox) and sends the buyer back to the merchant's return URL."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from piaowu.core.errors import Conflict, CsrfFailed
from piaowu.core.errors import render as fill
from piaowu.core.inputs import origin_of
from piaowu.headers import page_csp
from piaowu.i18n import Translator
from piaowu.payments import sandbox_gateway
from piaowu.payments.sandbox_gateway import TradeView
from piaowu.runtime import Runtime
from piaowu.web.deps import RuntimeDep
from piaowu.web.templating import check_csrf, page_locale, render

router = APIRouter()


def back_url(trade: TradeView, result: str) -> str:
    """Where to send the buyer back, or "" when the trade has no return URL or one that is not plain http(s)
    (a ``javascript:`` URL stored before return URLs were checked must never become a link or a redirect)."""
    if not trade.return_url or origin_of(trade.return_url) is None:
        return ""
    return with_result(trade.return_url, result)


def with_result(url: str, result: str) -> str:
    """The return URL with ``gateway_result`` added, as real gateways append their outcome. The merchant uses it
    only to choose what to show: payment is confirmed by the signed notification or a query, never by this."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "gateway_result"]
    query.append(("gateway_result", result))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


async def _trade(rt: Runtime, trade_no: str) -> TradeView:
    async with rt.uow(readonly=True) as uow:
        return await sandbox_gateway.get_trade(uow.session, trade_no)


def _page(request: Request, rt: Runtime, trade: TradeView, error: str = "", status_code: int = 200) -> Response:
    back = back_url(trade, "paid" if trade.status == "paid" else "cancelled")
    response = render(
        request, "gateway/pay.html", {"trade": trade, "error": error, "back_url": back}, status_code=status_code
    )
    # Paying or cancelling posts a form here and is redirected to the return URL, which browsers check against
    # the page's form-action: it may be on the organizer's own site (a per-organizer origin the installation-wide
    # policy cannot know), already checked when the payment started. A return URL that is not http(s) adds
    # nothing (page_csp keeps origins only).
    targets = [*rt.settings.allowed_return_origins, *([trade.return_url] if back else [])]
    response.headers["Content-Security-Policy"] = page_csp(targets)
    return response


async def _checked(request: Request) -> None:
    form = await request.form()
    if not check_csrf(request, str(form.get("csrf") or "")):
        raise CsrfFailed()


@router.get("/pay/{trade_no}")
async def pay_page(trade_no: str, request: Request, rt: RuntimeDep) -> Response:
    return _page(request, rt, await _trade(rt, trade_no))


@router.post("/pay/{trade_no}/confirm")
async def confirm(trade_no: str, request: Request, rt: RuntimeDep) -> Response:
    await _checked(request)
    try:
        # Autocommit: on PostgreSQL paying is one statement (the trade and its queued notification), no BEGIN.
        async with rt.uow(autocommit=True) as uow:
            trade = await sandbox_gateway.pay(
                uow.session, uow.now(), trade_no, delay_s=rt.settings.sandbox_callback_delay_seconds
            )
            await uow.commit()
    except Conflict as exc:
        message = fill(exc.localized(Translator(page_locale(request))), exc.data)
        return _page(request, rt, await _trade(rt, trade_no), error=message, status_code=409)
    worker = rt.extras.get("worker")
    if worker is not None:
        worker.wake_outbox()  # deliver the notification now rather than at the next sweep
    back = back_url(trade, "paid")
    return RedirectResponse(back, status_code=303) if back else _page(request, rt, trade)


@router.post("/pay/{trade_no}/cancel")
async def cancel(trade_no: str, request: Request, rt: RuntimeDep) -> Response:
    await _checked(request)
    async with rt.uow() as uow:
        trade = await sandbox_gateway.close(uow.session, trade_no)
        await uow.commit()
    back = back_url(trade, "paid" if trade.status == "paid" else "cancelled")
    return RedirectResponse(back, status_code=303) if back else _page(request, rt, trade)
