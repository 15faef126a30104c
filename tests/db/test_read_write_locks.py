"""Readers never take SQLite's write lock (issue 15): in WAL, a reader holding a read
transaction does not block a writer's commit, and a writer holding the write lock does not
block a reader. Deterministic: threads hand over with events; timeouts only bound a failure.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from db.audit import append_event
from db.engine import make_engine, make_read_session_factory, make_session_factory
from db.models import Event

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
BOUND = 10.0  # seconds; only ever reached when the behaviour under test is broken


@pytest.fixture
def engine(migrated_sqlite) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{migrated_sqlite}")
    with make_session_factory(engine).begin() as s:
        append_event(s, station_id="st", type="holding.held", occurred_at=T0)
    yield engine
    engine.dispose()


def _count(s) -> int:
    return s.scalar(select(func.count(Event.id))) or 0


def _write_one(engine: Engine) -> None:
    with make_session_factory(engine).begin() as s:
        append_event(s, station_id="st", type="holding.released", occurred_at=T0)


def test_a_reader_in_a_read_transaction_does_not_block_a_writers_commit(engine):
    reading, release = threading.Event(), threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            with make_read_session_factory(engine)() as s:
                seen.append(_count(s))  # the read transaction is open from here
                reading.set()
                assert release.wait(BOUND)
                seen.append(_count(s))  # same snapshot: the writer's commit is not visible
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            reading.set()

    t = threading.Thread(target=reader)
    t.start()
    assert reading.wait(BOUND)
    writer = threading.Thread(target=_write_one, args=(engine,))
    writer.start()
    writer.join(BOUND)
    committed = not writer.is_alive()
    release.set()
    t.join(BOUND)
    assert not errors, errors
    assert committed, "the writer's commit waited for a reader"
    assert seen == [1, 1]
    with make_read_session_factory(engine)() as s:
        assert _count(s) == 2


def test_a_writer_holding_the_write_lock_does_not_block_a_reader(engine):
    writing, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with make_session_factory(engine).begin() as s:
                append_event(s, station_id="st", type="holding.released", occurred_at=T0)
                s.flush()  # BEGIN IMMEDIATE taken and a row written, not committed
                writing.set()
                assert release.wait(BOUND)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            writing.set()

    t = threading.Thread(target=writer)
    t.start()
    assert writing.wait(BOUND)
    seen: list[int] = []
    reader = threading.Thread(
        target=lambda: seen.append(_count(make_read_session_factory(engine)()))
    )
    reader.start()
    reader.join(BOUND)
    done = not reader.is_alive()
    release.set()
    t.join(BOUND)
    assert not errors, errors
    assert done, "the reader waited for the writer"
    assert seen == [1]  # the uncommitted event is not visible


def test_a_second_writer_does_wait_for_the_write_lock(engine):
    """The check above can fail: a write session is blocked while another writer holds the
    lock (here with no busy timeout, so it fails at once instead of waiting)."""
    with make_session_factory(engine).begin() as s:
        append_event(s, station_id="st", type="holding.released", occurred_at=T0)
        s.flush()
        with engine.connect() as other:
            other.connection.dbapi_connection.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
            with pytest.raises(OperationalError, match="locked"):
                other.exec_driver_sql("SELECT 1")  # autobegin: BEGIN IMMEDIATE
            other.invalidate()  # do not hand the zero timeout back to the pool


def test_a_read_session_cannot_write(engine):
    with (
        pytest.raises(OperationalError, match="readonly"),
        make_read_session_factory(engine).begin() as s,
    ):
        append_event(s, station_id="st", type="holding.held", occurred_at=T0)
    with make_session_factory(engine)() as s:
        assert _count(s) == 1


def test_a_write_session_after_a_read_session_on_the_same_connection_can_write(engine):
    """``query_only`` is a connection setting and the pool reuses connections."""
    with make_read_session_factory(engine)() as s:
        _count(s)
    _write_one(engine)
    with make_read_session_factory(engine)() as s:
        assert _count(s) == 2
