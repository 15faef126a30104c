"""The ASGI app: ``create_app(database_url)``.

Stateless: everything that matters (stations' anchors, sessions, log-in failures, the
tray) is in the database, so a trust can run several processes behind a proxy on one
PostgreSQL. The app holds only its engine, session factory and clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from central.api import (
    API_PREFIX,
    install_batch_schema,
    refusal_response,
    router,
    validation_response,
)
from central.ingest import Ingestor, Refusal
from central.store import make_engine, make_sessions
from central.web import mount_web
from wire import IngestRefused

DEFAULT_SESSION_IDLE = timedelta(minutes=15)
"""How long a signed-in page may sit untouched (seeds 001, 002: screens locked when
unattended; the blank-screen key covers the moments in between)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    database_url: str,
    *,
    clock: Callable[[], datetime] = _utcnow,
    engine: Engine | None = None,
    secure_cookies: bool = True,
    session_idle: timedelta = DEFAULT_SESSION_IDLE,
) -> FastAPI:
    """The central log over the database at ``database_url`` (migrated with ``db upgrade``).

    ``engine`` lets a caller share one (tests on a PostgreSQL schema); ``secure_cookies``
    is only ever turned off for a demo served over plain HTTP to another machine;
    ``session_idle``: a signed-in browser left this long without a request must sign in
    again (``kiosk-central serve --session-idle-minutes``).
    """
    if session_idle <= timedelta(0):
        raise ValueError(f"session_idle must be positive, not {session_idle}")
    engine = engine or make_engine(database_url)
    sessions = make_sessions(engine)
    app = FastAPI(
        title="Kiosk central incident log",
        version="1",
        description="Where every kiosk's records land. Ingest API for stations; "
        "the DSL's tray and governors' report are server-rendered pages.",
        # The interactive docs pages load their scripts from a CDN; the spec itself is at
        # /openapi.json, and no page of ours loads anything from elsewhere.
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.clock = clock
    app.state.secure_cookies = secure_cookies
    app.state.session_idle = session_idle
    app.state.ingestor = Ingestor(sessions, clock)
    app.include_router(router)
    install_batch_schema(app)
    app.add_exception_handler(Refusal, refusal_response)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith(API_PREFIX):
            return validation_response(request, exc)
        assert isinstance(exc, RequestValidationError)
        return await request_validation_exception_handler(request, exc)

    app.add_exception_handler(RequestValidationError, on_invalid)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith(API_PREFIX) and exc.status_code == 400:
            # A body that is not JSON at all (e.g. not UTF-8): the wire's refusal shape.
            answer = IngestRefused(error="invalid", detail=f"body: {exc.detail}")
            return JSONResponse(answer.model_dump(mode="json"), status_code=400)
        return await http_exception_handler(request, exc)

    app.add_exception_handler(StarletteHTTPException, on_http_error)
    mount_web(app)
    return app
