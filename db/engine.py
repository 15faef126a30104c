"""Engine and session factory with the SQLite settings a power cut cannot hurt.

WAL with ``synchronous=FULL`` means a committed custody record survives the office
cleaner pulling the plug; ``foreign_keys=ON`` because SQLite ignores them otherwise;
``busy_timeout`` so the door monitor and the UI can write without "database is locked".

Writers begin ``BEGIN IMMEDIATE`` (see :func:`_begin`); read-only paths (views, listings,
``audit verify``, sync reads) use :func:`make_read_session_factory`, whose transactions begin
deferred and never take the write lock: in WAL a reader and a writer do not block each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_MS = 5000

#: Execution option marking an engine (and its sessions) read-only: deferred ``BEGIN`` and
#: ``PRAGMA query_only`` so a stray write fails loudly instead of taking the write lock.
READ_ONLY = "kiosk_read_only"


class DatabaseCorrupt(RuntimeError):
    """``PRAGMA integrity_check`` failed: the kiosk must not run on a damaged ledger."""


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path)}"


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module (which would only BEGIN at the first
    # INSERT/UPDATE); :func:`_begin` starts every transaction instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _begin(conn: Connection) -> None:
    """Writers take SQLite's write lock when a transaction starts; readers never take it.

    The hash chain reads the station's newest event and writes the next one; two writers
    (the UI and the door-alarm thread) that both read before either writes would both take
    the same sequence number and one alarm would be lost. ``BEGIN IMMEDIATE`` makes the
    second writer wait (``busy_timeout``) until the first commits. This is the recipe in
    SQLAlchemy's pysqlite documentation ("Serializable isolation / Savepoints").

    A connection from :func:`read_only` begins a deferred read transaction instead (one
    consistent WAL snapshot, no write lock), with ``query_only`` on so that a write through
    it is an error rather than a silent lock upgrade that could fail with "database is
    locked" halfway through a screen.
    """
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("PRAGMA query_only=ON")
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("PRAGMA query_only=OFF")
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite URLs get the durability pragmas and immediate transactions."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _set_sqlite_pragmas)
        event.listen(engine, "begin", _begin)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for use-cases that write: every transaction holds the write lock (SQLite)."""
    return sessionmaker(engine, expire_on_commit=False)


def read_only(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions are deferred, read-only snapshots."""
    return engine.execution_options(**{READ_ONLY: True})


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for read-only paths: they never take the write lock, so a listing or an
    ``audit verify`` over a big ledger never makes the hatch wait (issue 15)."""
    return sessionmaker(read_only(engine), expire_on_commit=False)


IntegrityMode = Literal["quick", "full"]


def check_integrity(engine: Engine, mode: IntegrityMode = "full") -> None:
    """Run ``PRAGMA integrity_check`` (or ``quick_check``) and refuse to go on if damaged.

    Called where it pays, not on every command (it reads every page: 680 ms at 100k events,
    issue 15): ``quick`` at station start (every page and b-tree, without cross-checking
    indexes against their tables, several times faster), ``full`` nightly on the backup copy
    (:mod:`kiosk.backup`) and from ``kiosk db check``.
    """
    if engine.dialect.name != "sqlite":
        return
    pragma = "quick_check" if mode == "quick" else "integrity_check"
    with read_only(engine).connect() as conn:
        rows = [r[0] for r in conn.exec_driver_sql(f"PRAGMA {pragma}")]
        # The check read every page through this connection's page cache (up to
        # SQLite's default 2 MB), which the pool would keep for a scan that runs once:
        # give it back (issue 15, memory; the station reads by index afterwards).
        conn.exec_driver_sql("PRAGMA shrink_memory")
    if rows != ["ok"]:
        detail = "; ".join(str(r) for r in rows[:5])
        raise DatabaseCorrupt(
            f"database {engine.url.database} failed its integrity check ({detail}). "
            "The kiosk will not start on a damaged ledger: restore the latest backup "
            "(see README, Operations) or contact support."
        )
