"""Fixtures of the central log's tests: the same app on SQLite and on PostgreSQL.

PostgreSQL is the server at ``KIOSK_TEST_POSTGRES`` (default: database ``test`` on
127.0.0.1:5432, what CI has); each worker migrates a schema of its own once, and each test
finds it emptied (see :func:`postgres_engine`); it is dropped at the end. In CI (``CI`` set)
a missing server fails loudly; elsewhere those tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from central_helpers import Clock
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from central import admin
from central.app import create_app
from central.models import Base
from central.store import VERSION_TABLE, head_revision, make_engine, make_sessions, upgrade

PG_URL = os.environ.get("KIOSK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class _MigratedSchema:
    """This worker's PostgreSQL schema at the central head, migrated once (issue 8).

    Creating a schema, running the six migrations and dropping it again cost ~0.3 s a test,
    ~15 s of the central tests. Emptying the tables (and restarting their id sequences, so
    ids start at 1 as in a new schema) gives each test the same empty database. A test that
    rebuilt the schema itself (the c0005 -> c0006 migration test) and left it anywhere but
    the head gets a new one.
    """

    def __init__(self) -> None:
        self.admin_engine: Engine | None = None
        self.schema: str | None = None
        self.failure: str | None = None
        self.head = head_revision()
        self.tables = {t.name for t in Base.metadata.sorted_tables} | {VERSION_TABLE}

    def _create(self) -> str:
        assert self.admin_engine is not None
        schema = f"central_test_{uuid.uuid4().hex[:10]}"
        with self.admin_engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine = self._engine(schema)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        return schema

    @staticmethod
    def _engine(schema: str) -> Engine:
        return make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})

    def engine(self) -> Engine:
        """An engine on the empty, migrated schema (skips or fails if no server)."""
        if self.failure is None and self.schema is None:
            self.admin_engine = create_engine(PG_URL)
            try:
                self.schema = self._create()
            except Exception as exc:  # any connection failure means "no server"
                self.failure = f"{type(exc).__name__}: {exc}"
        if self.failure is not None:
            if os.environ.get("CI"):
                pytest.fail(
                    f"PostgreSQL at {PG_URL} is required in CI and is not reachable: {self.failure}"
                )
            pytest.skip(f"no PostgreSQL at {PG_URL}: {self.failure.split(':')[0]}")
        assert self.schema is not None
        return self._engine(self.schema)

    def empty(self) -> None:
        """Empty every table but the migration version table; a schema not at head is made anew."""
        assert self.admin_engine is not None and self.schema is not None
        with self.admin_engine.begin() as conn:
            conn.execute(text(f"SET LOCAL search_path TO {self.schema}"))
            tables = conn.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": self.schema}
            ).all()
            at = None
            if VERSION_TABLE in tables:
                at = conn.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))
            if at == self.head and set(tables) == self.tables:
                # DELETE, children first: TRUNCATE gives each table new files (~0.3 s a test).
                for table in reversed(Base.metadata.sorted_tables):
                    conn.execute(table.delete())
                sequences = conn.scalars(
                    text("SELECT sequencename FROM pg_sequences WHERE schemaname = :s"),
                    {"s": self.schema},
                ).all()
                for seq in sequences:  # ids start at 1 again, as in a new schema
                    conn.execute(text(f'ALTER SEQUENCE "{seq}" RESTART'))
                return
            conn.execute(text(f"DROP SCHEMA {self.schema} CASCADE"))
        self.schema = self._create()

    def close(self) -> None:
        if self.admin_engine is None:
            return
        if self.schema is not None:
            with self.admin_engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {self.schema} CASCADE"))
        self.admin_engine.dispose()


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[_MigratedSchema]:
    schema = _MigratedSchema()
    yield schema
    schema.close()


def postgres_engine(migrated: _MigratedSchema) -> Iterator[Engine]:
    """An engine on the worker's migrated schema, empty (skips or fails if no server)."""
    engine = migrated.engine()
    try:
        yield engine
    finally:
        engine.dispose()
        migrated.empty()


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with its smallest costs: the tests check the flow, not the hash's strength."""
    from argon2 import PasswordHasher

    import central.web.auth

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(admin, "passwords", cheap)
    monkeypatch.setattr(central.web.auth, "passwords", cheap)


@pytest.fixture(scope="session")
def central_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty central database (SQLite) at the head, migrated once per worker."""
    path = tmp_path_factory.mktemp("central") / "central.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()  # the last connection closed: the WAL is checkpointed into the file
    assert not path.with_name("central.db-wal").exists()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        # A copy of the migrated file: what upgrade() of a new file gives, without Alembic.
        target = tmp_path / "central.db"
        shutil.copyfile(request.getfixturevalue("central_sqlite_template"), target)
        eng = make_engine(f"sqlite:///{target}")
        yield eng
        eng.dispose()
    else:
        yield from postgres_engine(request.getfixturevalue("migrated_postgres"))


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
