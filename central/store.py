"""Engine, sessions and migrations of the central log.

SQLite is the embedded default (``kiosk-central demo`` needs no server); PostgreSQL is the
production store. On SQLite every transaction begins ``IMMEDIATE`` so two ingests for one
station serialise (PostgreSQL uses a row lock on the station instead, see
:mod:`central.ingest`). Alembic is driven from code, so ``kiosk-central db upgrade`` needs no
alembic.ini.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from central.models import Base

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
DEFAULT_URL = "sqlite:///central.db"
VERSION_TABLE = "central_alembic_version"
"""Its own name, so the central log can share a database with nothing else's Alembic."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


DEFAULT_POOL_SIZE = 10
"""Database connections each web process keeps open (PostgreSQL)."""


def make_engine(url: str, *, pool_size: int | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and immediate transactions.

    PostgreSQL: a pool of ``pool_size`` connections that stay open, and no overflow. A
    burst of requests queues for a connection instead of opening more: each new connection
    is a new server process (fork, authentication, cold caches, statements prepared
    again), which under a 50-station burst cost more than the queueing it saved, and more
    connections than cores only adds contention in the database.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", pool_size or DEFAULT_POOL_SIZE)
    kwargs.setdefault("max_overflow", 0)
    return create_engine(url, **kwargs)


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the central database at ``engine`` to ``revision`` (default: the newest)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        if sqlite:
            # SQLite rebuilds a table to drop a column (Alembic's batch mode), and dropping
            # the old table fails while other tables' rows refer to it. SQLite's documented
            # procedure: foreign keys off *outside* the transaction, rebuild, then
            # foreign_key_check before committing (www.sqlite.org/lang_altertable.html).
            raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(
                            f"migration to {revision} broke foreign keys: {broken[:5]}"
                        )
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        ).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def schema_drift(engine: Engine) -> list[object]:
    """Differences between the models and a database at head (empty = in step)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "render_as_batch": True, "version_table": VERSION_TABLE},
        )
        return list(compare_metadata(ctx, Base.metadata))


def new_revision(message: str, rev_id: str | None = None) -> None:
    """Autogenerate a migration against a scratch database built to head (for contributors)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/scratch.db"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        command.revision(alembic_config(url), message=message, autogenerate=True, rev_id=rev_id)


if __name__ == "__main__":
    import sys

    if len(sys.argv) not in (3, 4) or sys.argv[1] != "revision":
        sys.exit('usage: python -m central.store revision "what changed" [REV_ID]')
    new_revision(sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else None)
