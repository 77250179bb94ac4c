"""The back office (/manage): sign-in, dashboard, catalog, orders, box-office sale, staff and API tokens,
payment reconciliation, the organizer's settings."""

from __future__ import annotations

from fastapi import APIRouter

from piaowu.web.manage import (
    auth,
    catalog,
    dashboard,
    grants,
    layouts,
    orders,
    reconciliation,
    seat_exchange,
    sell,
    series,
    session_seating,
    settings,
    staff,
    venues,
)

router = APIRouter()
router.include_router(auth.router)
# Mounted at /manage: "" and "/" are the dashboard (a sub-router cannot own an empty path).
router.add_api_route("", dashboard.dashboard, methods=["GET"])
router.add_api_route("/", dashboard.dashboard, methods=["GET"])
router.include_router(catalog.router)
router.include_router(venues.router)
router.include_router(layouts.router)
router.include_router(session_seating.router)
router.include_router(series.router)
router.include_router(grants.router)
router.include_router(orders.router)
router.include_router(sell.router)
router.include_router(seat_exchange.router)
router.include_router(staff.router)
router.include_router(reconciliation.router)
router.include_router(settings.router)
