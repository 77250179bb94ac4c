"""Who may use which route: ONE table for every route of the JSON API and of the pages. Pure: no I/O.

The enforcement reads it (``api.deps.enforce_route`` and ``web.deps.enforce_page``, attached to every API
and page router), the back-office navigation reads it (a link is shown only where the page would open), and
the permission matrix test (tests/api/test_permission_matrix.py) calls every route as every role, as a shop
customer and with no credentials, and checks the answers against it. A route without an entry is refused
(fail closed) and fails that test, which prints the line to add here.

Kinds of access:
- ``PUBLIC``: anyone, no credentials (the shop, sign-in, payment notifications, the public key).
- ``CUSTOMER``: a shop buyer who proved the order is theirs (the page itself checks the proof: the browser
  found the order with its number and contact); anyone else is sent to the order lookup.
- ``STAFF``: any signed-in staff member or any API token, whatever its role.
- ``needs(P.X, …)``: staff or a token holding every permission named; ``needs_any(…)``: at least one.

Services check their permissions again (``actor.require``): the table guards the door (pages that only show
a form call no service), the services guard the work whatever the door.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from piaowu.accounts.permissions import Permission


class Kind(StrEnum):
    PUBLIC = "public"
    CUSTOMER = "customer"
    STAFF = "authenticated"
    PERMISSION = "permission"


@dataclass(frozen=True, slots=True)
class Rule:
    kind: Kind
    permissions: frozenset[Permission] = frozenset()
    any_of: bool = False  # False: every permission is needed; True: one is enough

    def admits(self, *, staff_permissions: frozenset[str] | None = None, customer: bool = False) -> bool:
        """Does this rule let the caller in? ``staff_permissions`` is None for a caller who is not staff (no
        token, not signed in); ``customer`` is a buyer with proof of their order."""
        if self.kind is Kind.PUBLIC:
            return True
        if self.kind is Kind.CUSTOMER:
            return customer
        if staff_permissions is None:
            return False
        if self.kind is Kind.STAFF or "*" in staff_permissions:
            return True
        held = [str(p) in staff_permissions for p in self.permissions]
        return any(held) if self.any_of else all(held)

    @property
    def needs_staff(self) -> bool:
        """Whether the caller must be identified as staff (a token or a page session) before the route runs."""
        return self.kind in (Kind.STAFF, Kind.PERMISSION)

    def missing(self, staff_permissions: frozenset[str]) -> str:
        """The permission to name in the refusal (the first one not held)."""
        for p in sorted(self.permissions):  # sorted: the same name every time (set order varies per process)
            if str(p) not in staff_permissions:
                return str(p)
        return ""

    def describe(self) -> str:
        if self.kind is not Kind.PERMISSION:
            return str(self.kind)
        return (" or " if self.any_of else " and ").join(str(p) for p in sorted(self.permissions))


PUBLIC = Rule(Kind.PUBLIC)
CUSTOMER = Rule(Kind.CUSTOMER)
STAFF = Rule(Kind.STAFF)


def needs(*permissions: Permission) -> Rule:
    return Rule(Kind.PERMISSION, frozenset(permissions))


def needs_any(*permissions: Permission) -> Rule:
    return Rule(Kind.PERMISSION, frozenset(permissions), any_of=True)


P = Permission
API = "/api/v1"

# (method, full path as routed) → who may call it. Add one line per new route; the matrix test says which.
ROUTES: Mapping[tuple[str, str], Rule] = {
    # ---- JSON API: documentation and public routes
    ("GET", f"{API}/openapi.json"): PUBLIC,
    ("GET", f"{API}/docs"): PUBLIC,
    ("GET", f"{API}/shop/{{slug}}/events"): PUBLIC,
    ("GET", f"{API}/shop/{{slug}}/sessions/{{session_id}}"): PUBLIC,
    ("GET", f"{API}/shop/{{slug}}/sessions/{{session_id}}/availability"): PUBLIC,
    ("GET", f"{API}/shop/{{slug}}/sessions/{{session_id}}/seat-map"): PUBLIC,
    ("GET", f"{API}/shop/{{slug}}/sessions/{{session_id}}/seat-map/sections/{{key}}"): PUBLIC,
    ("GET", f"{API}/shop/{{slug}}/sessions/{{session_id}}/seat-availability"): PUBLIC,
    ("POST", f"{API}/shop/{{slug}}/sessions/{{session_id}}/best-available"): PUBLIC,
    ("POST", f"{API}/shop/{{slug}}/orders"): PUBLIC,
    # The buyer's order number + contact in the body are the proof; the service checks them.
    ("POST", f"{API}/shop/{{slug}}/orders/lookup"): PUBLIC,
    ("POST", f"{API}/shop/{{slug}}/orders/{{code}}/payments"): PUBLIC,
    ("POST", f"{API}/shop/{{slug}}/orders/{{code}}/cancel"): PUBLIC,
    ("POST", f"{API}/payments/notify/{{provider}}"): PUBLIC,  # trusted through the provider's signature
    ("GET", f"{API}/organizers/{{slug}}/public-key"): PUBLIC,
    # ---- JSON API: tokens
    ("GET", f"{API}/organizer"): STAFF,
    ("GET", f"{API}/organizer/settings"): needs(P.SETTINGS_MANAGE),
    ("PATCH", f"{API}/organizer/settings"): needs(P.SETTINGS_MANAGE),
    ("GET", f"{API}/events"): needs(P.CATALOG_READ),
    ("POST", f"{API}/events"): needs(P.CATALOG_WRITE),
    ("GET", f"{API}/events/{{event_id}}"): needs(P.CATALOG_READ),
    ("PATCH", f"{API}/events/{{event_id}}"): needs(P.CATALOG_WRITE),
    ("GET", f"{API}/venues"): needs(P.CATALOG_READ),
    ("POST", f"{API}/venues"): needs(P.CATALOG_WRITE),
    ("GET", f"{API}/venues/{{venue_id}}"): needs(P.CATALOG_READ),
    ("PATCH", f"{API}/venues/{{venue_id}}"): needs(P.CATALOG_WRITE),
    # Seat maps (issue 8): layouts per venue and the seats a session sells.
    ("GET", f"{API}/venues/{{venue_id}}/seat-layouts"): needs(P.CATALOG_READ),
    ("POST", f"{API}/venues/{{venue_id}}/seat-layouts"): needs(P.CATALOG_WRITE),
    ("GET", f"{API}/seat-layouts/{{layout_id}}"): needs(P.CATALOG_READ),
    ("PUT", f"{API}/seat-layouts/{{layout_id}}"): needs(P.CATALOG_WRITE),
    ("DELETE", f"{API}/seat-layouts/{{layout_id}}"): needs(P.CATALOG_WRITE),
    ("POST", f"{API}/seat-layouts/{{layout_id}}/sections"): needs(P.CATALOG_WRITE),
    ("PATCH", f"{API}/seat-layouts/{{layout_id}}/seats"): needs(P.CATALOG_WRITE),
    ("GET", f"{API}/seat-layouts/{{layout_id}}/export"): needs(P.CATALOG_READ),
    ("POST", f"{API}/seat-layouts/{{layout_id}}/import"): needs(P.CATALOG_WRITE),
    ("GET", f"{API}/sessions/{{session_id}}/seating"): needs(P.CATALOG_READ),
    ("PUT", f"{API}/sessions/{{session_id}}/seating"): needs(P.CATALOG_WRITE),
    ("GET", f"{API}/sessions/{{session_id}}/zone-prices"): needs(P.CATALOG_READ),
    ("PUT", f"{API}/sessions/{{session_id}}/zone-prices"): needs(P.CATALOG_WRITE),
    ("POST", f"{API}/sessions/{{session_id}}/seats/block"): needs(P.CATALOG_WRITE),
    ("POST", f"{API}/sessions/{{session_id}}/seats/release"): needs(P.CATALOG_WRITE),
    ("POST", f"{API}/sessions/{{session_id}}/seats/publish"): needs(P.CATALOG_WRITE),
    ("POST", f"{API}/sessions/{{session_id}}/seats/withhold"): needs(P.CATALOG_WRITE),
    ("POST", f"{API}/events/{{event_id}}/sessions"): needs(P.CATALOG_WRITE),
    ("GET", f"{API}/sessions/{{session_id}}"): needs(P.CATALOG_READ),
    ("PATCH", f"{API}/sessions/{{session_id}}"): needs(P.CATALOG_WRITE),
    ("POST", f"{API}/sessions/{{session_id}}/ticket-types"): needs(P.CATALOG_WRITE),
    # Cancelling a session refunds every paid order of it: both the catalog and the refund permission.
    ("POST", f"{API}/sessions/{{session_id}}/cancel"): needs(P.CATALOG_WRITE, P.REFUND),
    ("GET", f"{API}/sessions/{{session_id}}/cancellation"): needs(P.ORDER_READ),
    ("POST", f"{API}/sessions/{{session_id}}/cancellation/retry"): needs(P.CATALOG_WRITE, P.REFUND),
    ("PATCH", f"{API}/ticket-types/{{ticket_type_id}}"): needs(P.CATALOG_WRITE),
    ("GET", f"{API}/events/{{event_id}}/ticket-types"): needs(P.CATALOG_READ),
    ("POST", f"{API}/events/{{event_id}}/ticket-types"): needs(P.CATALOG_WRITE),
    ("PATCH", f"{API}/event-ticket-types/{{event_ticket_type_id}}"): needs(P.CATALOG_WRITE),
    ("POST", f"{API}/events/{{event_id}}/series"): needs(P.CATALOG_WRITE),
    ("GET", f"{API}/ticket-types/{{ticket_type_id}}/grants"): needs(P.CATALOG_READ),
    ("PUT", f"{API}/ticket-types/{{ticket_type_id}}/grants"): needs(P.CATALOG_WRITE),
    ("POST", f"{API}/orders"): needs(P.ORDER_CREATE),
    ("GET", f"{API}/orders"): needs(P.ORDER_READ),
    ("GET", f"{API}/orders/{{order_id}}"): needs(P.ORDER_READ),
    ("GET", f"{API}/orders/{{order_id}}/status"): needs(P.ORDER_READ),
    ("POST", f"{API}/orders/{{order_id}}/cancel"): needs(P.ORDER_CANCEL),
    ("POST", f"{API}/orders/{{order_id}}/pay"): needs(P.PAYMENT_CASH),
    ("POST", f"{API}/orders/{{order_id}}/payments"): needs(P.ORDER_CREATE),
    ("POST", f"{API}/box-office/sales"): needs(P.ORDER_CREATE, P.PAYMENT_CASH),  # as /manage/sell
    ("POST", f"{API}/orders/{{order_id}}/refunds"): needs(P.REFUND),
    ("GET", f"{API}/orders/{{order_id}}/refunds"): needs(P.ORDER_READ),
    ("POST", f"{API}/refunds/{{refund_id}}/retry"): needs(P.REFUND),
    ("GET", f"{API}/orders/{{order_id}}/tickets.pdf"): needs(P.ORDER_READ),
    ("POST", f"{API}/tickets/{{ticket_id}}/exchange-seat"): needs(P.ORDER_CREATE),  # seatoffice: a clerk's job
    ("GET", f"{API}/tickets/{{code}}"): needs(P.ORDER_READ),
    ("GET", f"{API}/tickets/{{code}}/qr.svg"): needs(P.ORDER_READ),
    ("GET", f"{API}/tickets/{{code}}/qr.png"): needs(P.ORDER_READ),
    ("POST", f"{API}/checkin/scan"): needs(P.CHECKIN),
    ("GET", f"{API}/checkin/scans"): needs(P.CHECKIN),
    ("GET", f"{API}/checkin/stats"): needs(P.CHECKIN),
    ("GET", f"{API}/staff"): needs(P.STAFF_MANAGE),
    ("POST", f"{API}/staff"): needs(P.STAFF_MANAGE),
    ("PATCH", f"{API}/staff/{{staff_id}}"): needs(P.STAFF_MANAGE),
    ("GET", f"{API}/tokens"): needs(P.TOKENS_MANAGE),
    ("POST", f"{API}/tokens"): needs(P.TOKENS_MANAGE),
    ("POST", f"{API}/tokens/{{token_id}}/revoke"): needs(P.TOKENS_MANAGE),
    ("GET", f"{API}/audit-events"): needs(P.AUDIT_READ),
    ("GET", f"{API}/reports/today"): needs_any(P.REPORTS, P.ORDER_READ),
    # ---- pages: the shop and the sandbox gateway's hosted payment page
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/s/{slug}"): PUBLIC,
    ("GET", "/s/{slug}/events/{event_id}"): PUBLIC,
    ("GET", "/s/{slug}/sessions/{session_id}"): PUBLIC,
    ("POST", "/s/{slug}/sessions/{session_id}"): PUBLIC,
    ("GET", "/s/{slug}/lookup"): PUBLIC,
    ("POST", "/s/{slug}/lookup"): PUBLIC,
    ("GET", "/s/{slug}/orders/{code}"): CUSTOMER,
    ("GET", "/s/{slug}/orders/{code}/status.json"): CUSTOMER,  # the order page's push channel (held request)
    ("POST", "/s/{slug}/orders/{code}/pay"): CUSTOMER,
    ("GET", "/s/{slug}/orders/{code}/cancel"): CUSTOMER,  # the question before the cancel
    ("POST", "/s/{slug}/orders/{code}/cancel"): CUSTOMER,
    ("GET", "/s/{slug}/orders/{code}/tickets.pdf"): CUSTOMER,
    ("GET", "/sandbox-gateway/pay/{trade_no}"): PUBLIC,
    ("POST", "/sandbox-gateway/pay/{trade_no}/confirm"): PUBLIC,
    ("POST", "/sandbox-gateway/pay/{trade_no}/cancel"): PUBLIC,
    # ---- pages: the back office
    ("GET", "/manage/login"): PUBLIC,
    ("POST", "/manage/login"): PUBLIC,
    ("POST", "/manage/logout"): PUBLIC,  # signing out needs no permission (and the CSRF token)
    ("GET", "/manage"): STAFF,  # every role has a first screen (the gate staff's sends them to the gate)
    ("GET", "/manage/"): STAFF,
    ("GET", "/manage/events"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/events/new"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/events/new"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/events/{event_id}"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/events/{event_id}/edit"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/events/{event_id}/edit"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/venues"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/venues/new"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/venues/new"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/venues/{venue_id}/edit"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/venues/{venue_id}/edit"): needs(P.CATALOG_WRITE),
    # seat maps (issue 8, seatoffice): a venue's layouts and the map editor
    ("GET", "/manage/venues/{venue_id}/layouts"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/venues/{venue_id}/layouts"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/venues/{venue_id}/layouts/{layout_id}"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/venues/{venue_id}/layouts/{layout_id}/delete"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/venues/{venue_id}/layouts/{layout_id}/save"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/venues/{venue_id}/layouts/{layout_id}/sections"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/venues/{venue_id}/layouts/{layout_id}/import"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/venues/{venue_id}/layouts/{layout_id}/export.json"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/venues/{venue_id}/layouts/{layout_id}/export.csv"): needs(P.CATALOG_WRITE),
    # a session's seating (issue 8, seatoffice): layout, zone prices, seats kept back, availability by zone
    ("GET", "/manage/sessions/{session_id}/seating"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/sessions/{session_id}/seating.json"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/sessions/{session_id}/seating/layout"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/sessions/{session_id}/seating/prices"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/sessions/{session_id}/seating/seats"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/events/{event_id}/sessions/new"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/events/{event_id}/sessions/new"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/events/{event_id}/series"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/events/{event_id}/series"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/events/{event_id}/ticket-types/new"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/events/{event_id}/ticket-types/new"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/events/{event_id}/ticket-types/{event_ticket_type_id}/edit"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/events/{event_id}/ticket-types/{event_ticket_type_id}/edit"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/sessions/{session_id}"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/sessions/{session_id}/edit"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/sessions/{session_id}/edit"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/sessions/{session_id}/cancel"): needs(P.CATALOG_WRITE, P.REFUND),
    ("POST", "/manage/sessions/{session_id}/cancellation/retry"): needs(P.CATALOG_WRITE, P.REFUND),
    ("GET", "/manage/sessions/{session_id}/ticket-types/new"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/sessions/{session_id}/ticket-types/new"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/sessions/{session_id}/ticket-types/{ticket_type_id}/edit"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/sessions/{session_id}/ticket-types/{ticket_type_id}/edit"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/ticket-types/{ticket_type_id}/grants"): needs(P.CATALOG_WRITE),
    ("POST", "/manage/ticket-types/{ticket_type_id}/grants"): needs(P.CATALOG_WRITE),
    ("GET", "/manage/payments/reconciliation"): needs(P.REPORTS),  # finance: mismatches and the daily summary
    ("POST", "/manage/payments/reconciliation/run"): needs(P.REPORTS),
    ("GET", "/manage/orders"): needs(P.ORDER_READ),
    ("GET", "/manage/orders/{order_id}"): needs(P.ORDER_READ),
    ("POST", "/manage/orders/{order_id}/cancel"): needs(P.ORDER_CANCEL),
    ("POST", "/manage/orders/{order_id}/pay"): needs(P.PAYMENT_CASH),
    ("POST", "/manage/orders/{order_id}/refund"): needs(P.REFUND),
    ("POST", "/manage/orders/{order_id}/refunds/{refund_id}/retry"): needs(P.REFUND),
    ("GET", "/manage/orders/{order_id}/tickets.pdf"): needs(P.ORDER_READ),
    ("GET", "/manage/sell"): needs(P.ORDER_CREATE, P.PAYMENT_CASH),  # a counter sale is paid on the spot
    ("POST", "/manage/sell"): needs(P.ORDER_CREATE, P.PAYMENT_CASH),
    # seat exchange from the order page (issue 8, seatoffice): a clerk's job, like the API's exchange-seat
    ("GET", "/manage/orders/{order_id}/tickets/{ticket_id}/exchange"): needs(P.ORDER_READ, P.ORDER_CREATE),
    ("POST", "/manage/orders/{order_id}/tickets/{ticket_id}/exchange"): needs(P.ORDER_READ, P.ORDER_CREATE),
    ("GET", "/manage/staff"): needs(P.STAFF_MANAGE),
    ("POST", "/manage/staff"): needs(P.STAFF_MANAGE),
    ("GET", "/manage/staff/{staff_id}"): needs(P.STAFF_MANAGE),
    ("POST", "/manage/staff/{staff_id}"): needs(P.STAFF_MANAGE),
    ("GET", "/manage/tokens"): needs(P.TOKENS_MANAGE),
    ("POST", "/manage/tokens"): needs(P.TOKENS_MANAGE),
    ("POST", "/manage/tokens/{token_id}/revoke"): needs(P.TOKENS_MANAGE),
    ("GET", "/manage/settings"): needs(P.SETTINGS_MANAGE),
    ("POST", "/manage/settings"): needs(P.SETTINGS_MANAGE),
    ("POST", "/manage/settings/organization"): needs(P.SETTINGS_MANAGE),
    # ---- pages: the gate
    ("GET", "/gate"): needs(P.CHECKIN),
    ("POST", "/gate/setup"): needs(P.CHECKIN),
    ("POST", "/gate/scan"): needs(P.CHECKIN),
    ("GET", "/gate/status.json"): needs(P.CHECKIN),
    ("GET", "/gate/find"): needs(P.CHECKIN, P.ORDER_READ),  # a supervisor's search, not every steward's
}


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of a route (HEAD is GET); None: the route has no entry and is refused."""
    return ROUTES.get(("GET" if method == "HEAD" else method, path))


def entry_line(method: str, path: str) -> str:
    """The line to add to ``ROUTES`` for a route that has none (for the test's failure message)."""
    shown = path.replace("{", "{{").replace("}", "}}").replace(API, "{API}", 1) if path.startswith(API) else path
    quoted = f'f"{shown}"' if shown != path else f'"{path}"'
    return f'    ("{method}", {quoted}): needs(P.…),  # or PUBLIC / CUSTOMER / STAFF'
