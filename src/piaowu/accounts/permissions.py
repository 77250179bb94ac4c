"""Roles and the permissions they grant. Pure: no I/O, imports only ``core``."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    CATALOG_READ = "catalog.read"
    CATALOG_WRITE = "catalog.write"
    ORDER_READ = "order.read"
    ORDER_CREATE = "order.create"  # sell: box office, distributor API
    ORDER_CANCEL = "order.cancel"
    PAYMENT_CASH = "payment.cash"  # take cash / card-terminal payments at a counter
    REFUND = "payment.refund"
    CHECKIN = "checkin.scan"
    REPORTS = "reports.read"
    STAFF_MANAGE = "staff.manage"
    TOKENS_MANAGE = "tokens.manage"
    AUDIT_READ = "audit.read"
    SETTINGS_MANAGE = "organizer.settings"  # the organizer's own settings (the sites a payment may return to)


class Role(StrEnum):
    OWNER = "owner"  # everything, including staff and tokens
    ADMIN = "admin"  # runs the catalog and sales, manages staff
    SALES = "sales"  # box office clerk
    SERVICE = "service"  # customer service: looks up, cancels and refunds orders
    GATE = "gate"  # check-in staff
    FINANCE = "finance"  # reports, refunds, audit


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(Permission) - {P.TOKENS_MANAGE},
    Role.SALES: frozenset({P.CATALOG_READ, P.ORDER_READ, P.ORDER_CREATE, P.ORDER_CANCEL, P.PAYMENT_CASH, P.CHECKIN}),
    Role.SERVICE: frozenset({P.CATALOG_READ, P.ORDER_READ, P.ORDER_CANCEL, P.REFUND, P.AUDIT_READ}),
    Role.GATE: frozenset({P.CATALOG_READ, P.CHECKIN}),
    Role.FINANCE: frozenset({P.CATALOG_READ, P.ORDER_READ, P.REFUND, P.REPORTS, P.AUDIT_READ}),
}

# What an anonymous shop customer may do: read the published catalog and buy for themselves.
CUSTOMER_PERMISSIONS: frozenset[str] = frozenset({"shop.buy"})


def permissions_for(role: str) -> frozenset[str]:
    """Unknown roles get nothing (fail closed)."""
    try:
        return frozenset(str(p) for p in ROLE_PERMISSIONS[Role(role)])
    except ValueError:
        return frozenset()


# ---- granting: nobody raises anyone (or any token) above themselves --------------------------------------


def _holds(actor_permissions: frozenset[str], wanted: frozenset[str]) -> bool:
    return "*" in actor_permissions or wanted <= actor_permissions


def can_grant(actor_permissions: frozenset[str], role: str) -> bool:
    """May someone holding ``actor_permissions`` give ``role`` to a staff member or an API token?

    Only a role whose every permission they hold themselves. So the owner role (every permission) is given
    only by an owner, an admin may give admin and below, and an unknown role by nobody. ``"*"`` (the system:
    the CLI, set-up) may give any known role."""
    wanted = permissions_for(role)
    return bool(wanted) and _holds(actor_permissions, wanted)


def can_manage(actor_permissions: frozenset[str], existing_role: str) -> bool:
    """May they act on an existing account or token of ``existing_role`` (change its role, deactivate it, reset
    its password, revoke it)? The same rule as granting: only if they could have given that role. Owners are
    managed only by owners. An account with an unknown role is left to the system."""
    return can_grant(actor_permissions, existing_role)


def grantable_roles(actor_permissions: frozenset[str]) -> list[Role]:
    """The roles they may give, in the order of ``Role`` (for the forms' choices)."""
    return [r for r in Role if can_grant(actor_permissions, r)]
