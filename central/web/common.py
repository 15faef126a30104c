"""What every page shares: templates, the signed-in user, CSRF, security headers.

Sessions live in the database (``web_sessions``), so any web process can serve any
request and signing out ends the session everywhere. The cookie holds 32 random bytes;
the store keeps their SHA-256. Cookies are ``Secure``, ``HttpOnly``, ``SameSite=Strict``
and ``__Host-`` prefixed; every form carries the session's CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import User, WebSession
from central.queries import Scope, in_scope, school_scope

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # untrusted text (names, notes) is always text, never markup
        undefined=jinja2.StrictUndefined,
    )
)

ROLE_WORDS = {
    "dsl": "Designated safeguarding lead",
    "senior_leader": "Senior leader",
    "trust_admin": "Trust admin",
    "governor": "Governor",
}
NAME_ROLES = frozenset({"dsl", "senior_leader"})


def cookie_name(request: Request) -> str:
    return "__Host-kc_session" if request.app.state.secure_cookies else "kc_session"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def db(request: Request) -> Iterator[Session]:
    """One database session per request, committed if the handler returns normally."""
    with request.app.state.sessions.begin() as s:
        yield s


DB = Annotated[Session, Depends(db, scope="function")]
"""``scope="function"``: commit *before* the response is sent. With the default ("request")
the commit came after, and a browser following the log-in redirect to another web process
could arrive before its session row existed (seen with two uvicorn workers)."""


class SignInNeeded(Exception):
    """No valid session: the page redirects to the log-in form."""


class Forbidden(Exception):
    """Signed in, but this role may not see this page."""


@dataclass(frozen=True)
class Viewer:
    user: User
    session: WebSession
    schools: Scope
    """The schools this user may see (``None``: the whole trust), read once per request."""

    @property
    def sees_names(self) -> bool:
        return self.user.role in NAME_ROLES

    def may_see(self, school_id: int) -> bool:
        return in_scope(self.schools, school_id)


def viewer(request: Request, s: DB) -> Viewer:
    token = request.cookies.get(cookie_name(request))
    if not token:
        raise SignInNeeded()
    web = s.get(WebSession, sha256(token))
    moment = now(request)
    if web is None or web.expires_at <= moment:
        raise SignInNeeded()
    idle: timedelta = request.app.state.session_idle
    if (web.last_seen_at or web.created_at) + idle <= moment:
        # Left unattended: refused from now on, by every web process (it is never touched
        # again, so it stays idle); sign-in clears such rows away.
        raise SignInNeeded()
    user = s.get(User, web.user_id)
    if user is None or user.disabled_at is not None:
        raise SignInNeeded()
    web.last_seen_at = moment
    return Viewer(user, web, school_scope(s, user))


def require(*roles: str) -> Callable[..., Viewer]:
    def dependency(v: Annotated[Viewer, Depends(viewer)]) -> Viewer:
        if v.user.role not in roles:
            raise Forbidden()
        return v

    return dependency


NameReader = Annotated[Viewer, Depends(require("dsl", "senior_leader"))]
AnyUser = Annotated[Viewer, Depends(viewer)]


def check_csrf(v: Viewer, token: str) -> None:
    if not hmac.compare_digest(v.session.csrf_token, token or ""):
        raise Forbidden()


def render(
    request: Request,
    name: str,
    v: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    context.update(
        viewer=v,
        user=v.user if v else None,
        role_words=ROLE_WORDS,
        csrf=v.session.csrf_token if v else "",
        has_names=bool(context.get("has_names", False)),
    )
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def users_named(s: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(s.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())


def install_handlers(app: FastAPI) -> None:
    async def to_login(request: Request, _exc: Exception) -> Response:
        return RedirectResponse("/login", status_code=303)

    async def forbidden(request: Request, _exc: Exception) -> Response:
        return templates.TemplateResponse(
            request,
            "error.html",
            {
                "viewer": None,
                "user": None,
                "has_names": False,
                "csrf": "",
                "role_words": ROLE_WORDS,
                "title": "Not for your role",
                "message": "Your role cannot see this page. If you need it, ask your DSL "
                "or trust admin.",
            },
            status_code=403,
        )

    app.add_exception_handler(SignInNeeded, to_login)
    app.add_exception_handler(Forbidden, forbidden)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if request.url.path.startswith(("/docs", "/redoc")):
            return response  # FastAPI's own API docs pages
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.url.path.startswith("/static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
