"""Engine and session factory with the SQLite settings a power cut cannot hurt.

WAL with ``synchronous=FULL`` means a committed custody record survives the office
cleaner pulling the plug; ``foreign_keys=ON`` because SQLite ignores them otherwise;
``busy_timeout`` so the door monitor and the UI can write without "database is locked".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_MS = 5000


class DatabaseCorrupt(RuntimeError):
    """``PRAGMA integrity_check`` failed: the kiosk must not run on a damaged ledger."""


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path)}"


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module (which would only BEGIN at the first
    # INSERT/UPDATE); :func:`_begin_immediate` starts every transaction instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _begin_immediate(conn: Connection) -> None:
    """Take SQLite's write lock when a transaction starts, not at its first write.

    The hash chain reads the station's newest event and writes the next one; two writers
    (the UI and the door-alarm thread) that both read before either writes would both take
    the same sequence number and one alarm would be lost. ``BEGIN IMMEDIATE`` makes the
    second writer wait (``busy_timeout``) until the first commits. This is the recipe in
    SQLAlchemy's pysqlite documentation ("Serializable isolation / Savepoints").
    """
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite URLs get the durability pragmas and immediate transactions."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _set_sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def check_integrity(engine: Engine) -> None:
    """Run ``PRAGMA integrity_check`` and refuse to go on if SQLite reports damage."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        rows = [r[0] for r in conn.execute(text("PRAGMA integrity_check"))]
    if rows != ["ok"]:
        detail = "; ".join(str(r) for r in rows[:5])
        raise DatabaseCorrupt(
            f"database {engine.url.database} failed its integrity check ({detail}). "
            "The kiosk will not start on a damaged ledger: restore the latest backup "
            "(see README, Operations) or contact support."
        )
