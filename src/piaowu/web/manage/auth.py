"""Back-office sign-in and sign-out, with a per e-mail + address limit on failed attempts (``rt.limiter``)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from piaowu.accounts import service as accounts
from piaowu.accounts import sessions as staff_sessions
from piaowu.core.errors import InvalidCredentials, NotAuthenticated, TooManyAttempts
from piaowu.ratelimit import client_ip
from piaowu.web.deps import RuntimeDep
from piaowu.web.manage.common import error_text, read_form, redirect, safe_next, translator
from piaowu.web.templating import flash, render

router = APIRouter()

MAX_FAILURES = 5
WINDOW = timedelta(minutes=5)
WINDOW_S = int(WINDOW.total_seconds())


def _login_page(request: Request, *, email: str = "", next_url: str = "", error: str = "", status: int = 200):  # noqa: ANN202
    return render(
        request,
        "manage/login.html",
        {"email": email, "next": safe_next(next_url, ""), "error": error},
        status_code=status,
    )


@router.get("/login")
async def login_form(request: Request, rt: RuntimeDep, next: str = "") -> Response:  # noqa: A002
    if sid := request.session.get("sid"):
        try:
            async with rt.uow(readonly=True) as uow:
                await staff_sessions.session_actor(uow, sid)
            return redirect(safe_next(next))  # signed in already
        except NotAuthenticated:
            request.session.pop("sid", None)  # over (signed out elsewhere, expired): the form, not a loop
    return _login_page(request, next_url=next)


@router.post("/login")
async def login(request: Request, rt: RuntimeDep) -> Response:
    form = await read_form(request)
    email = form.get("email", "").strip()
    next_url = form.get("next", "")
    if not email or not form.get("password"):
        _ = translator(request)
        return _login_page(
            request, email=email, next_url=next_url, error=_("Enter your e-mail and password."), status=422
        )
    # Every attempt is counted before the password is checked (so parallel guesses cannot all slip in before
    # their failures are recorded) and a success clears the count: in effect, failures are what is limited.
    key = f"login:{email.lower()}:{client_ip(request)}"
    decision = await rt.limiter.hit(key, MAX_FAILURES, WINDOW_S)
    if not decision.allowed:
        minutes = max(1, -(-decision.retry_after_s // 60))
        msg = error_text(request, TooManyAttempts(minutes=minutes))
        page = _login_page(request, email=email, next_url=next_url, error=msg, status=429)
        page.headers["Retry-After"] = str(decision.retry_after_s)
        return page
    try:
        async with rt.uow() as uow:
            user = await accounts.login(uow, rt.passwords, email, form.get("password", ""))
            session_id = await staff_sessions.open_session(uow, user.id)
            await uow.commit()
    except InvalidCredentials as exc:
        return _login_page(request, email=email, next_url=next_url, error=error_text(request, exc), status=401)
    await rt.limiter.reset(key)
    # A fresh session on sign-in: nothing from before (a planted session id, an old CSRF token) carries over.
    request.session.clear()
    request.session["sid"] = session_id
    return redirect(safe_next(next_url))


@router.post("/logout")
async def logout(request: Request, rt: RuntimeDep) -> Response:
    await read_form(request)
    if sid := request.session.get("sid"):
        async with rt.uow() as uow:  # on the server too: a copy of this cookie opens nothing any more
            await staff_sessions.end_session(uow, sid)
            await uow.commit()
    request.session.clear()
    flash(request, translator(request)("You have signed out."), "success")
    return redirect("/manage/login")
