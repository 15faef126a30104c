"""Suite-wide test infrastructure: test-cost PIN hashing and per-worker PostgreSQL databases.

Why test-cost Argon2: the station hashes PINs at an OWASP cost (7 MiB, 5 passes,
``kiosk.auth.Argon2Params``), about 14 ms of CPU per hash or verification here. Seeding a
school and signing in its six staff costs a dozen of those per test, hundreds of seconds over
the suite, and proves nothing about the cost itself. So every in-process
:class:`kiosk.auth.Argon2PinHasher` built with the *production default* parameters uses
:data:`TEST_COST` instead; explicitly chosen parameters (``tests/kiosk/auth_testing.py``,
the rehash tests) pass through unchanged. Production code is untouched: the seam is the
hasher class that :class:`kiosk.auth.AuthService` builds when it is given none. A test that
must see the real cost asks for the ``production_argon2`` fixture. Subprocesses (the
console script, the crash harness) always hash at the production cost.

Why a migrated template: running the Alembic migrations on a new SQLite file costs about
0.3 s of CPU; a test that needs an empty ledger at the schema head copies the file migrated
once per session (``migrated_sqlite``) instead. Tests *of* the migrations still run them.

Why ``@pytest.mark.slow`` runs first: the suite runs on two workers (``-n auto --dist
worksteal``, README); a test that takes a minute (the crash harness) started last would end
the run alone. Marked tests are moved to the front of the collection, so a worker starts on
each while the other worker (and then both) takes the rest. Mark a new test ``slow`` when it
takes more than about ten seconds here.

Why per-worker PostgreSQL: with ``pytest -n N`` (pytest-xdist) each worker gets a database
of its own, ``<database>_<worker id>`` next to the one ``KIOSK_TEST_POSTGRES`` names
(default ``test``), created here before any test module reads the variable. Tests still
make a schema per test inside it; nothing else needs to change in a new PostgreSQL test but
to read ``KIOSK_TEST_POSTGRES`` (or :data:`PG_DEFAULT` when unset).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import kiosk.auth
from kiosk.auth import Argon2Params, Argon2PinHasher

#: Argon2id at its smallest costs: the tests check the sign-in flows, not the hash's strength.
TEST_COST = Argon2Params(memory_kib=8, time_cost=1, parallelism=1)
PRODUCTION_COST = Argon2Params()
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_PRODUCTION_HASHER = Argon2PinHasher


class TestCostArgon2PinHasher(Argon2PinHasher):
    """:class:`Argon2PinHasher` with :data:`TEST_COST` wherever production's default was asked."""

    __test__ = False  # not a test class, despite the name

    def __init__(self, params: Argon2Params = PRODUCTION_COST) -> None:
        super().__init__(TEST_COST if params == PRODUCTION_COST else params)


@pytest.fixture(scope="session", autouse=True)
def _test_cost_argon2() -> Iterator[None]:
    patch = pytest.MonkeyPatch()
    patch.setattr(kiosk.auth, "Argon2PinHasher", TestCostArgon2PinHasher)
    yield
    patch.undo()


@pytest.fixture
def production_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the test cost for one test: hashers built during it use the real defaults."""
    monkeypatch.setattr(kiosk.auth, "Argon2PinHasher", _PRODUCTION_HASHER)


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty kiosk ledger (SQLite) at the schema head, migrated once per session/worker."""
    from db.engine import make_engine
    from db.migrate import upgrade

    path = tmp_path_factory.mktemp("migrated") / "kiosk.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection closed: the WAL is checkpointed into the file
    assert not path.with_name("kiosk.db-wal").exists()
    return path


@pytest.fixture
def migrated_sqlite(tmp_path: Path, migrated_sqlite_template: Path) -> Path:
    """A private copy of that ledger, ``tmp_path/k.db``: what ``upgrade()`` of a new file
    gives, without running Alembic again. Open it with ``db.engine.make_engine``."""
    target = tmp_path / "k.db"
    shutil.copyfile(migrated_sqlite_template, target)
    return target


def _worker_database(base_url: str, worker: str) -> str:
    """Create (if missing) the worker's own database beside ``base_url``'s; return its URL.

    Any failure (no server) leaves ``base_url``: the PostgreSQL tests then skip, or fail in
    CI, with their own message naming the server.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    name = f"{url.database or 'test'}_{worker}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        return base_url
    finally:
        engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first (a stable sort: otherwise the collection order is kept)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        base = os.environ.get("KIOSK_TEST_POSTGRES", PG_DEFAULT)
        os.environ["KIOSK_TEST_POSTGRES"] = _worker_database(base, worker)
