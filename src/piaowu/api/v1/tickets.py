"""Tickets: the organizer's public key for offline gates, QR images and printable PDFs.

A QR code is a bearer credential: image and PDF responses are ``Cache-Control: no-store`` and scoped to the
caller's organizer (another organizer's code or order is ``404``, never ``403``, so ids are not confirmed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from piaowu.api.deps import ActorDep, RuntimeDep
from piaowu.orders import service as orders
from piaowu.tickets import printing, rendering
from piaowu.tickets import service as tickets
from piaowu.tickets.schemas import PublicKeyOut, TicketOut

router = APIRouter()

NO_STORE = {"Cache-Control": "no-store"}
NOT_FOUND = {404: {"description": "`not_found`: no such ticket of your organizer"}}
AUTH = {401: {"description": "`not_authenticated`"}, 403: {"description": "`permission_denied` (needs order.read)"}}


@router.get(
    "/organizers/{slug}/public-key",
    response_model=PublicKeyOut,
    summary="An organizer's ticket-signing public key (public, no token)",
    responses={404: {"description": "`not_found`: no organizer with this slug"}},
)
async def public_key(rt: RuntimeDep, slug: str) -> PublicKeyOut:
    """The Ed25519 public key that verifies this organizer's ticket QR codes, and the payload format. Gates
    download it once and then verify tickets offline; only "already used" needs the server."""
    async with rt.uow(readonly=True) as uow:
        return await tickets.public_key_for_slug(uow, slug)


@router.get(
    "/tickets/{code}", response_model=TicketOut, summary="A ticket by its code", responses={**NOT_FOUND, **AUTH}
)
async def get_ticket(rt: RuntimeDep, actor: ActorDep, code: str) -> TicketOut:
    async with rt.uow(readonly=True) as uow:
        return await tickets.get_by_code(uow, actor, code)


@router.get(
    "/tickets/{code}/qr.svg",
    summary="A ticket's QR code as SVG",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, **NOT_FOUND, **AUTH},
)
async def ticket_qr_svg(rt: RuntimeDep, actor: ActorDep, code: str) -> Response:
    async with rt.uow(readonly=True) as uow:
        t = await tickets.get_by_code(uow, actor, code)
    return Response(rendering.qr_svg(t.qr_payload), media_type="image/svg+xml", headers=NO_STORE)


@router.get(
    "/tickets/{code}/qr.png",
    summary="A ticket's QR code as PNG",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **NOT_FOUND, **AUTH},
)
async def ticket_qr_png(
    rt: RuntimeDep,
    actor: ActorDep,
    code: str,
    scale: Annotated[int, Query(ge=1, le=40, description="pixels per module")] = 6,
) -> Response:
    async with rt.uow(readonly=True) as uow:
        t = await tickets.get_by_code(uow, actor, code)
    return Response(rendering.qr_png(t.qr_payload, scale), media_type="image/png", headers=NO_STORE)


@router.get(
    "/orders/{order_id}/tickets.pdf",
    summary="An order's valid tickets as a PDF (one A6 page each)",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}},
        404: {"description": "`not_found`: no such order of your organizer, or it has no valid tickets"},
        **AUTH,
    },
)
async def order_tickets_pdf(rt: RuntimeDep, actor: ActorDep, order_id: str) -> Response:
    """Bilingual (zh-CN and English labels) printable tickets with event, session time in the organizer's time
    zone, venue, ticket type, price, order number, holder, QR code and the code in text. Refunded tickets are
    left out."""
    async with rt.uow(readonly=True) as uow:
        order = await orders.get_order(uow, actor, order_id)
        pdf = await printing.order_pdf(uow, actor.organizer_id, printing.OrderFacts.of(order))
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="tickets-{order.code}.pdf"'}
    return Response(pdf, media_type="application/pdf", headers=headers)
