"""Version 1 of the JSON API. Each area has one thin router module."""

from __future__ import annotations

from fastapi import APIRouter

from piaowu.api.v1 import (
    audit,
    catalog,
    checkin,
    grants,
    orders,
    organizers,
    payments,
    reports,
    seat_exchange,
    seating,
    series,
    shop,
    shop_seats,
    staff,
    tickets,
    venues,
)

router = APIRouter()
router.include_router(organizers.router, tags=["organizer"])
router.include_router(catalog.router, tags=["catalog"])
router.include_router(venues.router, tags=["venues"])
router.include_router(seating.router, tags=["seat maps"])
router.include_router(series.router, tags=["catalog"])
router.include_router(grants.router, tags=["catalog"])
router.include_router(shop.router, tags=["shop (public)"])
router.include_router(shop_seats.router, tags=["shop (public)"])
router.include_router(orders.router, tags=["orders"])
router.include_router(payments.router, tags=["payments"])
router.include_router(tickets.router, tags=["tickets"])
router.include_router(seat_exchange.router, tags=["tickets"])
router.include_router(checkin.router, tags=["check-in"])
router.include_router(staff.router, tags=["staff and tokens"])
router.include_router(audit.router, tags=["audit"])
router.include_router(reports.router, tags=["reports"])

# Requests served on the lean lane (``api.lean``) as well as by the routes above, which document them.
LEAN_ROUTES = [*orders.LEAN_ROUTES, *shop.LEAN_ROUTES, *shop_seats.LEAN_ROUTES, *payments.LEAN_ROUTES]
