"""Purging the oldest events behind a checkpoint, on SQLite and PostgreSQL.

The chain must still verify after its oldest events go, and must still show any deletion
that a purge did not make: at the head (behind the checkpoint), in the middle and at the
tail. PostgreSQL needs the server on 127.0.0.1:5432 (``KIOSK_TEST_POSTGRES``); in CI a
missing server fails loudly, elsewhere the test skips and says why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pg_testing import PG_URL, pg_schema
from sqlalchemy import create_engine, delete, select

from db.audit import (
    PURGE_EVENT,
    append_event,
    checkpoint_payload,
    purge_events_through,
    verify_chain,
)
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import ChainCheckpoint, Event, OutboxRow

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine():
    with pg_schema() as schema:
        engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
        yield engine
        engine.dispose()


def _chain_then_purge(engine, events: int = 10, through: int = 4):
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as s:
        for i in range(events):
            append_event(
                s, station_id="st", type="x", occurred_at=T0 + timedelta(seconds=i), payload={}
            )
    with sessions.begin() as s:
        cp = purge_events_through(s, station_id="st", seq=through, now=T0 + timedelta(days=1))
        append_event(
            s,
            station_id="st",
            type=PURGE_EVENT,
            occurred_at=T0 + timedelta(days=1),
            payload={"checkpoint": checkpoint_payload(cp)},
        )
    return sessions


def _problem(sessions) -> str:
    with sessions() as s:
        report = verify_chain(s)
    return "" if report.ok else str(report.problem)


def _remove(sessions, seq: int) -> None:
    with sessions.begin() as s:
        ev = s.scalars(select(Event).where(Event.seq == seq)).one()
        s.execute(delete(OutboxRow).where(OutboxRow.event_id == ev.id))
        s.delete(ev)


@pytest.mark.parametrize("db", ["sqlite", pytest.param("pg", marks=pytest.mark.postgres)])
def test_checkpoint_keeps_the_chain_verifiable_and_deletions_still_show(db, request):
    engine = request.getfixturevalue("sqlite_engine" if db == "sqlite" else "pg_engine")
    sessions = _chain_then_purge(engine)
    with sessions() as s:
        assert [e.seq for e in s.scalars(select(Event).order_by(Event.seq))] == list(range(5, 12))
        assert s.get(ChainCheckpoint, "st").seq == 4
        assert s.scalar(select(OutboxRow).limit(1)) is not None
    assert _problem(sessions) == ""
    _remove(sessions, 7)  # the middle
    assert "expected seq 7, found 8" in _problem(sessions)


@pytest.mark.parametrize("where", ["oldest", "newest"])
def test_deleting_behind_or_after_the_checkpoint_shows(sqlite_engine, where):
    sessions = _chain_then_purge(sqlite_engine)
    _remove(sessions, 5 if where == "oldest" else 11)
    problem = _problem(sessions)
    if where == "oldest":
        assert "expected seq 5, found 6" in problem
    else:  # the purge event itself was the newest: its checkpoint is now unvouched
        assert "not recorded by any retention.purged" in problem


def test_a_purge_of_nothing_old_enough_returns_none(sqlite_engine):
    upgrade(sqlite_engine)
    with make_session_factory(sqlite_engine).begin() as s:
        assert purge_events_through(s, station_id="st", seq=3, now=T0) is None
