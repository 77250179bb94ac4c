"""Back-office page sessions, kept on the server: the signed cookie holds only a session's id.

The cookie alone (Starlette's signed session) would stay valid for its whole lifetime wherever a copy of it went —
after the clerk signed out on a shared box-office terminal, after an owner set a new password for a lost laptop.
A row per sign-in lets those end the session for good: signing out ends it, a new password ends every session of
that member, a deactivated member is refused at once, and no session outlives ``LIFETIME`` (the cookie's own
``max_age`` too). Rows of sessions over are deleted when their member next signs in, so the table holds about
one row per member and sign-in of the last ``LIFETIME``.
"""

from __future__ import annotations

from datetime import timedelta

from piaowu.accounts import repository as repo
from piaowu.accounts.models import StaffSession
from piaowu.accounts.service import actor_for_user
from piaowu.core.actor import Actor
from piaowu.core.errors import NotAuthenticated
from piaowu.db.uow import UnitOfWork

LIFETIME = timedelta(hours=12)


async def open_session(uow: UnitOfWork, user_id: str) -> str:
    """A new page session for a member who has just proved who they are (``service.login``). → its id."""
    now = uow.now()
    await repo.forget_sessions(uow.session, user_id, now - LIFETIME)
    row = StaffSession(user_id=user_id, created_at=now)
    uow.session.add(row)
    await uow.session.flush()
    return row.id


async def end_session(uow: UnitOfWork, session_id: str) -> None:
    """Signing out: the session opens nothing any more, from any copy of its cookie. Ending one already over is
    nothing."""
    await repo.end_sessions(uow.session, uow.now(), session_id=session_id)


async def session_actor(uow: UnitOfWork, session_id: str) -> Actor:
    """The actor of a live page session: not ended, younger than ``LIFETIME``, of an active member; else
    ``NotAuthenticated``."""
    user = await repo.live_session_user(uow.session, session_id, uow.now() - LIFETIME)
    if user is None or not user.is_active:
        raise NotAuthenticated()
    return actor_for_user(user)
