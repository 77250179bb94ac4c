"""Back-office page sessions, kept on the server: the signed cookie holds only a session's id.

The cookie alone (Starlette's signed session) would stay valid wherever a copy of it went — after the clerk signed
out on a shared box-office terminal, after an owner set a new password for a lost laptop. A row per sign-in lets
those end the session for good: signing out ends it, a new password ends every session of that member, a
deactivated member is refused at once, and a session unused for ``LIFETIME`` is over (the cookie's ``max_age``
too). Use is written at most every ``TOUCH_EVERY`` (one write per session and ten minutes, not one per page), and
then the cookie is signed again, so a gate in use all day stays signed in. Rows of sessions over are deleted when
their member next signs in.
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
TOUCH_EVERY = timedelta(minutes=10)


async def open_session(uow: UnitOfWork, user_id: str) -> str:
    """A new page session for a member who has just proved who they are (``service.login``). → its id."""
    now = uow.now()
    await repo.forget_sessions(uow.session, user_id, now - LIFETIME)
    row = StaffSession(user_id=user_id, created_at=now, seen_at=now)
    uow.session.add(row)
    await uow.session.flush()
    return row.id


async def end_session(uow: UnitOfWork, session_id: str) -> None:
    """Signing out: the session opens nothing any more, from any copy of its cookie. Ending one already over is
    nothing."""
    await repo.end_sessions(uow.session, uow.now(), session_id=session_id)


async def session_actor(uow: UnitOfWork, session_id: str) -> tuple[Actor, bool]:
    """The actor of a live page session — not ended, used within ``LIFETIME``, of an active member — and whether
    its use should be written now (``touch``); else ``NotAuthenticated``."""
    now = uow.now()
    found = await repo.live_session_user(uow.session, session_id, now - LIFETIME)
    if found is None or not found[0].is_active:
        raise NotAuthenticated()
    user, seen_at = found
    return actor_for_user(user), seen_at <= now - TOUCH_EVERY


async def touch(uow: UnitOfWork, session_id: str) -> None:
    """Writes that the session is in use (its ``LIFETIME`` counts from now)."""
    await repo.touch_session(uow.session, session_id, uow.now())
