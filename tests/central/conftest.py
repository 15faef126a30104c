"""Fixtures of the central log's tests: the same app on SQLite and on PostgreSQL.

PostgreSQL is the server at ``KIOSK_TEST_POSTGRES`` (default: database ``test`` on
127.0.0.1:5432, what CI has); each test gets a schema of its own, dropped afterwards. In CI
(``CI`` set) a missing server fails loudly; elsewhere those tests skip and say why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from central import admin
from central.app import create_app
from central.store import make_engine, make_sessions, upgrade

PG_URL = os.environ.get("KIOSK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class Clock:
    """A clock the test moves by hand (never wall time)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def postgres_engine() -> Iterator[Engine]:
    """An engine on a fresh schema of the test PostgreSQL (skips or fails if none)."""
    admin_engine = create_engine(PG_URL)
    schema = f"central_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin_engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # any connection failure means "no server"
        admin_engine.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI and is not reachable: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_URL}: {type(exc).__name__}")
    engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin_engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin_engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'central.db'}")
        upgrade(eng)
        yield eng
        eng.dispose()
    else:
        for eng in postgres_engine():
            upgrade(eng)
            yield eng


@dataclass
class Central:
    app: FastAPI
    client: TestClient
    sessions: sessionmaker[Session]
    clock: Clock
    tokens: dict[str, str]


@pytest.fixture
def central(engine: Engine) -> Iterator[Central]:
    """The app with school ``oakfield`` and stations ``oak-1``, ``oak-2`` (credentials kept)."""
    clock = Clock()
    sessions = make_sessions(engine)
    tokens: dict[str, str] = {}
    with sessions.begin() as s:
        admin.add_school(s, "oakfield", "Oakfield Academy")
        admin.add_school(s, "riverside", "Riverside Primary")
        for name in ("oak-1", "oak-2"):
            tokens[name] = admin.add_station(s, name, "oakfield", clock()).token
        tokens["river-1"] = admin.add_station(s, "river-1", "riverside", clock()).token
    app = create_app(str(engine.url), engine=engine, clock=clock)
    with TestClient(app, base_url="https://testserver") as client:
        yield Central(app, client, sessions, clock, tokens)
