"""Server-rendered pages: shop, back office (manage), gate, and the sandbox gateway's hosted page."""

from __future__ import annotations

from fastapi import APIRouter


def create_web_router() -> APIRouter:
    from piaowu.web import gate, gateway, manage, shop, shop_orders

    router = APIRouter(include_in_schema=False)
    router.include_router(shop.router)
    router.include_router(shop_orders.router)
    router.include_router(manage.router, prefix="/manage")
    router.include_router(gate.router, prefix="/gate")
    router.include_router(gateway.router, prefix="/sandbox-gateway")
    return router
