"""Provider notifications (server to server). Verified by signature, applied once, always answered."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from piaowu.api.deps import RuntimeDep
from piaowu.api.lean import LeanCall, LeanRoute
from piaowu.orders import payment_flow

router = APIRouter()


@router.post(
    "/payments/notify/{provider}",
    response_class=PlainTextResponse,
    summary="Payment provider notification",
    responses={400: {"description": "`invalid_signature`"}},
)
async def notify(provider: str, request: Request, rt: RuntimeDep) -> PlainTextResponse:
    """Answers `success` once the notification is durably applied (repeats included), so the provider stops
    retrying; anything else makes it retry later."""
    body = await request.body()
    async with rt.uow() as uow:
        answer = await payment_flow.handle_notification(uow, provider, request.headers, body)
        await uow.commit()
    return PlainTextResponse(answer)


async def _notify_lean(call: LeanCall) -> PlainTextResponse:
    # A public route (the signature is the check): the body is read raw, whatever its content type.
    return await notify(call.path_params["provider"], call.request, call.rt)


# Every online payment's notification, served by ``api.lean.LeanLane`` (same checks and answers, less framework).
LEAN_ROUTES = [LeanRoute("POST", "/api/v1/payments/notify/{provider}", notify, None, _notify_lean)]
