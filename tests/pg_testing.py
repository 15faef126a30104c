"""PostgreSQL in tests: a schema of one's own, and seeing a writer wait on a lock.

Why one module: each PostgreSQL test made its schema (and skipped, or failed in CI, when
there is no server) and each concurrency test polled ``pg_stat_activity`` for its second
writer, in copies that drifted. Import it as ``from pg_testing import ...`` (``tests/`` is on
``sys.path`` through the root conftest, as for ``door_watch``).

The server is ``KIOSK_TEST_POSTGRES`` (default: the ``test`` database on 127.0.0.1:5432,
trust auth). With ``CI`` set a missing server fails the test loudly; elsewhere it skips and
says why.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, create_engine, text

PG_URL = os.environ.get("KIOSK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: Failure bound of a concurrency test's waits; only reached when what it tests is broken.
BOUND_S = 20.0


@contextmanager
def pg_schema(prefix: str = "kiosk_test") -> Iterator[str]:
    """A new, empty schema for the test, dropped with everything in it afterwards."""
    admin = create_engine(PG_URL)
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # any connection failure means "no server"
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI and is not reachable: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_URL}: {type(exc).__name__}")
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def waits_on_lock(engine: Engine, pid: int, bound: float = BOUND_S) -> bool:
    """Whether the backend ``pid`` is (or within ``bound`` seconds comes to be) waiting on a
    lock: how a test sees its second writer queue behind the first before letting the first
    commit. Polls ``pg_stat_activity`` every 10 ms; the bound only matters when it never
    waits, which is the failure being tested for."""
    pause = threading.Event()
    with engine.connect() as watch:
        for _ in range(int(bound / 0.01)):
            waiting = watch.execute(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": pid},
            ).scalar_one_or_none()
            if waiting == "Lock":
                return True
            pause.wait(0.01)
    return False
