"""Staff accounts and API tokens: who may act, and as what."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from piaowu.accounts import repository as repo
from piaowu.accounts import tokens
from piaowu.accounts.models import ApiToken, StaffUser
from piaowu.accounts.passwords import Passwords
from piaowu.accounts.permissions import (
    CUSTOMER_PERMISSIONS,
    Permission,
    Role,
    can_grant,
    can_manage,
    grantable_roles,
    permissions_for,
)
from piaowu.accounts.schemas import StaffInfo, StaffPatch, TokenInfo
from piaowu.audit.recorder import record
from piaowu.core.actor import Actor, ActorKind, system_actor
from piaowu.core.errors import (
    Conflict,
    InvalidCredentials,
    NotAuthenticated,
    NotFound,
    RoleAboveYours,
    ValidationFailed,
)
from piaowu.core.inputs import checked_name
from piaowu.db.hotpath import RowCheck
from piaowu.db.uow import UnitOfWork


def _staff(u: StaffUser) -> StaffInfo:
    return StaffInfo(
        id=u.id,
        organizer_id=u.organizer_id,
        email=u.email,
        name=u.name,
        role=u.role,
        is_active=u.is_active,
        created_at=u.created_at,
    )


def _token(t: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=t.id,
        name=t.name,
        role=t.role,
        prefix=t.prefix,
        created_at=t.created_at,
        last_used_at=t.last_used_at,
        revoked_at=t.revoked_at,
    )


def actor_for_user(u: StaffUser | StaffInfo) -> Actor:
    return Actor(
        kind=ActorKind.USER,
        organizer_id=u.organizer_id,
        id=u.id,
        name=u.name,
        role=u.role,
        permissions=permissions_for(u.role),
        channel="box_office",
    )


def _check_role(role: str) -> None:
    if role not in {r.value for r in Role}:
        raise ValidationFailed([{"field": "role", "code": "invalid", "message": "Unknown role."}])


def _require_grant(actor: Actor | None, role: str) -> None:
    """Every path that gives a role (a new staff member, a new token, a changed role) passes here: nobody gives
    a role with a permission they do not hold. ``None`` is the system (CLI, set-up), which may give any role."""
    _check_role(role)
    if actor is not None and not can_grant(actor.permissions, role):
        raise RoleAboveYours(role=role)


def _require_manage(actor: Actor, existing_role: str) -> None:
    """Every path that acts on an existing account or token (revoke, and later deactivate, reset, change role):
    only someone who could have given its role. Owners are managed only by owners."""
    if not can_manage(actor.permissions, existing_role):
        raise RoleAboveYours(role=existing_role)


def roles_for(actor: Actor) -> list[str]:
    """The roles this actor may give (the choices the staff and token forms offer)."""
    return [r.value for r in grantable_roles(actor.permissions)]


async def create_user(
    uow: UnitOfWork,
    actor: Actor | None,
    passwords: Passwords,
    *,
    organizer_id: str,
    email: str,
    name: str,
    password: str,
    role: str,
) -> StaffInfo:
    """Creates a staff member with ``role``. ``actor`` None means the CLI / set-up (no permission check);
    otherwise the actor needs staff.manage and may give only a role they could hold (``can_grant``): an admin
    cannot make an owner."""
    if actor is not None:
        actor.require(Permission.STAFF_MANAGE)
        organizer_id = actor.organizer_id
    _require_grant(actor, role)
    name = checked_name("name", name)
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationFailed([{"field": "email", "code": "invalid", "message": "Enter a valid e-mail address."}])
    if len(password) < 8:
        raise ValidationFailed([{"field": "password", "code": "too_short", "message": "Use at least 8 characters."}])
    if await repo.user_by_email(uow.session, email):
        raise Conflict("A staff member with this e-mail already exists.")
    user = StaffUser(
        organizer_id=organizer_id,
        email=email,
        name=name,
        password_hash=passwords.hash(password),
        role=role,
        created_at=uow.now(),
    )
    uow.session.add(user)
    await uow.session.flush()
    record(
        uow,
        actor or system_actor(organizer_id, "cli"),
        "staff.created",
        "staff",
        user.id,
        after={"email": email, "role": role},
    )
    return _staff(user)


async def login(uow: UnitOfWork, passwords: Passwords, email: str, password: str) -> StaffInfo:
    """Checks a password. The same error for an unknown e-mail and a wrong password (no account probing)."""
    user = await repo.user_by_email(uow.session, email.strip().lower())
    if user is None or not user.is_active:
        passwords.verify("$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$0000000000000000000000", password)
        raise InvalidCredentials()
    if not passwords.verify(user.password_hash, password):
        raise InvalidCredentials()
    user.last_login_at = uow.now()
    return _staff(user)


async def staff_actor(uow: UnitOfWork, user_id: str) -> Actor:
    """The actor of an active staff member, by id (the benchmarks' set-up, tests; a page request is identified by
    its session: ``accounts.sessions.session_actor``)."""
    user = await repo.user_by_id(uow.session, user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated()
    return actor_for_user(user)


async def list_staff(uow: UnitOfWork, actor: Actor) -> list[StaffInfo]:
    actor.require(Permission.STAFF_MANAGE)
    return [_staff(u) for u in await repo.users(uow.session, actor.organizer_id)]


async def get_staff(uow: UnitOfWork, actor: Actor, staff_id: str) -> StaffInfo:
    """One staff member of the actor's organizer (another organizer's id is simply not found)."""
    actor.require(Permission.STAFF_MANAGE)
    user = await repo.user(uow.session, actor.organizer_id, staff_id)
    if user is None:
        raise NotFound(kind="staff member")
    return _staff(user)


def may_manage(actor: Actor, member: StaffInfo) -> bool:
    """Whether the actor may change this member at all (the pages show "Edit" only then)."""
    return actor.can(Permission.STAFF_MANAGE) and can_manage(actor.permissions, member.role)


async def update_staff(
    uow: UnitOfWork, actor: Actor, passwords: Passwords, staff_id: str, patch: StaffPatch
) -> StaffInfo:
    """Changes a staff member's role, deactivates or reactivates them, or sets a new password. Guarantees: the
    actor may manage the member's current role and give the new one (``can_manage``/``can_grant``: an admin
    never touches an owner); nobody deactivates themselves or changes their own role; an organizer always keeps
    an active owner. A deactivated member is signed out at their next request; a new password ends every page
    session the member had (``accounts.sessions``). One audit event, no hash in it."""
    actor.require(Permission.STAFF_MANAGE)
    user = await repo.user(uow.session, actor.organizer_id, staff_id)
    if user is None:
        raise NotFound(kind="staff member")
    _require_manage(actor, user.role)
    role = patch.role.value if patch.role is not None else user.role
    active = patch.is_active if patch.is_active is not None else user.is_active
    if role != user.role:
        _require_grant(actor, role)
    if user.id == actor.id and (role != user.role or not active):
        raise Conflict("You cannot deactivate yourself or change your own role; ask another owner.")
    if user.role == Role.OWNER and user.is_active and (role != Role.OWNER or not active):
        owners = [u for u in await repo.users(uow.session, actor.organizer_id) if u.role == Role.OWNER and u.is_active]
        if len(owners) <= 1:
            raise Conflict("An organizer keeps at least one active owner.")
    before = {"role": user.role, "is_active": user.is_active}
    user.role, user.is_active = role, active
    if patch.password is not None:
        user.password_hash = passwords.hash(patch.password)
        await repo.end_sessions(uow.session, uow.now(), user_id=user.id)
    after = {"role": role, "is_active": active, "password_changed": patch.password is not None}
    record(uow, actor, "staff.updated", "staff", user.id, before=before, after=after)
    return _staff(user)


async def create_token(
    uow: UnitOfWork, actor: Actor | None, *, organizer_id: str, name: str, role: str
) -> tuple[str, TokenInfo]:
    """→ (the token, shown once, and its info). Only a SHA-256 digest is stored. A token's role never exceeds
    its creator's (``can_grant``); ``actor`` None is the CLI."""
    if actor is not None:
        actor.require(Permission.TOKENS_MANAGE)
        organizer_id = actor.organizer_id
    _require_grant(actor, role)
    name = checked_name("name", name)
    token, prefix, digest = tokens.generate()
    row = ApiToken(
        organizer_id=organizer_id,
        name=name,
        role=role,
        prefix=prefix,
        token_hash=digest,
        created_by=actor.ref if actor else "cli",
        created_at=uow.now(),
    )
    uow.session.add(row)
    await uow.session.flush()
    record(
        uow,
        actor or system_actor(organizer_id, "cli"),
        "token.created",
        "api_token",
        row.id,
        after={"name": name, "role": role, "prefix": prefix},
    )
    return token, _token(row)


async def list_tokens(uow: UnitOfWork, actor: Actor) -> list[TokenInfo]:
    actor.require(Permission.TOKENS_MANAGE)
    return [_token(t) for t in await repo.tokens(uow.session, actor.organizer_id)]


async def revoke_token(uow: UnitOfWork, actor: Actor, token_id: str) -> TokenInfo:
    actor.require(Permission.TOKENS_MANAGE)
    row = await repo.token(uow.session, actor.organizer_id, token_id)
    if row is None:
        raise NotFound(kind="api token")
    _require_manage(actor, row.role)
    if row.revoked_at is None:
        row.revoked_at = uow.now()
        record(uow, actor, "token.revoked", "api_token", row.id)
    TOKEN_CACHE.clear()
    return _token(row)


class _TokenCache:
    """Verified tokens, per process. Never enough by itself: ``check_token`` reads the token's row on every
    request; a cached actor is used without a read only by a use case whose one statement re-verifies the token
    (``cached_token_actor`` + ``token_checks``), so a revocation by any process or host is refused at once.
    ``ttl`` only bounds how long such requests go without recording the token's last use."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[float, Actor]] = {}

    def get(self, token: str) -> Actor | None:
        hit = self._items.get(token)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, token: str, actor: Actor) -> None:
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[token] = (time.monotonic() + self.ttl, actor)

    def clear(self) -> None:
        self._items.clear()


TOKEN_CACHE = _TokenCache()


# ``last_used_at`` is written at most this often per token, and only when a request missed the token cache: a busy
# integration costs one small write a minute, not one per request.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenCheck:
    actor: Actor
    use_due: bool  # ``last_used_at`` is older than ``TOKEN_USE_RESOLUTION``: call ``record_token_use``


async def check_token(uow: UnitOfWork, token: str) -> TokenCheck:
    """Bearer token → its Actor (NotAuthenticated when unknown or revoked), and whether its last use should be
    recorded. Always reads the token's row: a revocation committed anywhere is refused by the next request."""
    prefix = tokens.prefix_of(token)
    row = await repo.token_by_prefix(uow.session, prefix) if prefix else None
    if row is None or row.revoked_at is not None or not tokens.matches(token, row.token_hash):
        raise NotAuthenticated()
    actor = Actor(
        kind=ActorKind.TOKEN,
        organizer_id=row.organizer_id,
        id=row.id,
        name=row.name,
        role=row.role,
        permissions=permissions_for(row.role),
        channel="api",
    )
    TOKEN_CACHE.put(token, actor)
    due = row.last_used_at is None or row.last_used_at <= uow.now() - TOKEN_USE_RESOLUTION
    return TokenCheck(actor, use_due=due)


def cached_token_actor(token: str) -> Actor | None:
    """The actor of a token this process verified recently, without reading it — only for a use case that puts
    ``token_checks(actor)`` into its one statement (placing an order), so a revoked token still writes nothing."""
    return TOKEN_CACHE.get(token)


def token_checks(actor: Actor) -> tuple[RowCheck, ...]:
    """For an API token's actor: its row must still be unrevoked when the statement runs (``db.hotpath``)."""
    if actor.kind is not ActorKind.TOKEN:
        return ()
    return _token_check(actor.id)


@functools.lru_cache(maxsize=4096)
def _token_check(token_id: str) -> tuple[RowCheck, ...]:
    # The same for every order a token places: built once (a check is immutable).
    return (RowCheck(TOKEN_CHECK, ApiToken.__table__, token_id, (("revoked_at", None),)),)


TOKEN_CHECK = "api_token"


def forget_tokens() -> None:
    """A statement found a cached token revoked: verify every token again (this process)."""
    TOKEN_CACHE.clear()


def refuse_revoked(failed: Sequence[RowCheck]) -> None:
    """Among the checks a statement found failed, the caller's token's (``token_checks``): it was revoked since
    this process cached it — every token is verified again (this process) and the request refused (401)."""
    if any(c.name == TOKEN_CHECK for c in failed):
        forget_tokens()
        raise NotAuthenticated()


async def token_actor(uow: UnitOfWork, token: str) -> Actor:
    return (await check_token(uow, token)).actor


async def record_token_use(uow: UnitOfWork, token_id: str) -> None:
    """Sets the token's ``last_used_at`` to now, unless another request did within ``TOKEN_USE_RESOLUTION``
    (one conditional update: concurrent requests write it once). Not audited: a use is not a change."""
    await repo.touch_token(uow.session, token_id, uow.now(), uow.now() - TOKEN_USE_RESOLUTION)


def customer_actor(organizer_id: str, channel: str = "web") -> Actor:
    """An anonymous buyer in the shop of ``organizer_id``: may read the published catalog and buy."""
    return Actor(
        kind=ActorKind.CUSTOMER,
        organizer_id=organizer_id,
        id="",
        name="customer",
        permissions=CUSTOMER_PERMISSIONS,
        channel=channel,
    )
