"""Who is acting: a staff user, an API token, a shop customer or the system itself.

Every service receives an Actor. Its ``organizer_id`` scopes every query; ``permissions`` are resolved
from the role by ``accounts.permissions`` at the edge, so services only ask ``actor.require(...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from piaowu.core.errors import PermissionDenied


class ActorKind(StrEnum):
    USER = "user"  # a staff member signed in to the pages
    TOKEN = "token"  # an API token (integrations, distributors)
    CUSTOMER = "customer"  # an anonymous buyer in the shop
    SYSTEM = "system"  # background jobs and payment callbacks


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    organizer_id: str
    id: str = ""
    name: str = ""
    role: str = ""
    permissions: frozenset[str] = field(default_factory=frozenset)
    channel: str = "web"

    def can(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDenied(permission=str(permission))

    @property
    def ref(self) -> str:
        """How the audit log names this actor."""
        return f"{self.kind}:{self.id}" if self.id else str(self.kind)


def system_actor(organizer_id: str, name: str = "system") -> Actor:
    return Actor(kind=ActorKind.SYSTEM, organizer_id=organizer_id, id=name, name=name, permissions=frozenset({"*"}))
