"""Signing in and out: Argon2 passwords, TOTP for roles that see names, throttling.

Throttling counts failures per username in the database (``login_failures``), so it holds
across web processes: five failures in fifteen minutes and that account refuses every
attempt, right or wrong, until the window passes. The message is the same for an unknown
user, a wrong password and a wrong code, so the form does not tell a stranger which
usernames exist.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from typing import Annotated

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import delete, func, or_, select

from central.models import LoginFailure, User, WebSession
from central.web.common import DB, NAME_ROLES, AnyUser, check_csrf, cookie_name, now, render, sha256

router = APIRouter(include_in_schema=False)
passwords = PasswordHasher()

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=8)
LOGIN_CSRF_COOKIE = "kc_login"
_DUMMY_HASH = passwords.hash("not a password anyone has")


def _login_cookie(request: Request) -> str:
    return ("__Host-" if request.app.state.secure_cookies else "") + LOGIN_CSRF_COOKIE


def _login_page(request: Request, error: str = "", status_code: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(
        request, "login.html", None, status_code=status_code, login_csrf=token, error=error
    )
    response.set_cookie(
        _login_cookie(request),
        token,
        httponly=True,
        secure=request.app.state.secure_cookies,
        samesite="strict",
        path="/",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    s: DB,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    code: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    cookie = request.cookies.get(_login_cookie(request), "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        return _login_page(request, "The form expired; please sign in again.", 400)
    moment = now(request)
    username = username.strip()
    recent = s.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.username == username, LoginFailure.at > moment - FAILURE_WINDOW)
    )
    if (recent or 0) >= MAX_FAILURES:
        return _login_page(
            request,
            "Too many failed attempts for this account. Wait 15 minutes, or ask your trust admin.",
            429,
        )
    user = s.scalar(select(User).where(User.username == username))
    ok = _password_ok(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    if ok and user is not None and user.role in NAME_ROLES:
        ok = _second_factor_ok(user, code.strip(), moment)
    if not ok or user is None or user.disabled_at is not None:
        s.add(LoginFailure(username=username, at=moment))
        return _login_page(
            request,
            "Those details did not match. Check the username, password and the "
            "6-digit code from your authenticator app.",
            401,
        )
    # Sessions past their lifetime or idle limit are refused anyway; clear them away.
    idle: timedelta = request.app.state.session_idle
    s.execute(
        delete(WebSession).where(
            or_(
                WebSession.expires_at <= moment,
                func.coalesce(WebSession.last_seen_at, WebSession.created_at) <= moment - idle,
            )
        )
    )
    token = secrets.token_urlsafe(32)
    s.add(
        WebSession(
            token_hash=sha256(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=moment,
            expires_at=moment + SESSION_LIFETIME,
            last_seen_at=moment,
        )
    )
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        cookie_name(request),
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        secure=request.app.state.secure_cookies,
        samesite="strict",
        path="/",
    )
    response.delete_cookie(_login_cookie(request), path="/")
    return response


def _second_factor_ok(user: User, code: str, moment: datetime) -> bool:
    """The TOTP code for now or the step either side (clock drift), never one used before.

    Refusing a step at or before the last accepted one stops a code seen over a shoulder
    from being replayed within its 30 seconds.
    """
    if not user.totp_secret or not code.isdigit():
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now_step = totp.timecode(moment)
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            return True
    return False


def _password_ok(stored: str, given: str) -> bool:
    try:
        return passwords.verify(stored, given)
    except (VerificationError, InvalidHashError):
        return False


@router.post("/logout")
def logout(
    request: Request, v: AnyUser, s: DB, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(v, csrf_token)
    web = s.get(WebSession, v.session.token_hash)
    if web is not None:
        s.delete(web)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(cookie_name(request), path="/")
    return response


@router.get("/")
def home(v: AnyUser) -> Response:
    """Each role's first page: the tray for those who see names, else what they may see."""
    target = {"dsl": "/tray", "senior_leader": "/tray", "trust_admin": "/admin"}.get(
        v.user.role, "/report"
    )
    return RedirectResponse(target, status_code=303)
