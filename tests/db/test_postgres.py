"""The same migrations and hash chain on PostgreSQL (the central log's database engine).

Needs the server on 127.0.0.1:5432 (trust auth, database ``test``). In CI (``CI`` set) a
missing server fails loudly; elsewhere the tests skip and say why.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from pg_testing import BOUND_S, PG_URL, pg_schema, waits_on_lock
from sqlalchemy import Engine, create_engine, update
from sqlalchemy.orm import Session, sessionmaker

from db.audit import append_event, verify_chain
from db.engine import make_session_factory
from db.migrate import current_revision, head_revision, schema_drift, upgrade
from db.models import Event

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine():
    with pg_schema() as schema:
        engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
        yield engine
        engine.dispose()


def test_migrations_reach_head_and_match_models_on_postgres(pg_engine):
    upgrade(pg_engine)
    assert current_revision(pg_engine) == head_revision()
    assert schema_drift(pg_engine) == []


def test_hash_chain_on_postgres_detects_tampering(pg_engine):
    upgrade(pg_engine)
    sessions = make_session_factory(pg_engine)
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    with sessions.begin() as s:
        for i in range(4):
            append_event(
                s,
                station_id="pg",
                type="holding.held",
                occurred_at=t0 + timedelta(seconds=i),
                payload={"i": i},
            )
    with sessions() as s:
        assert verify_chain(s).ok
    with sessions.begin() as s:
        s.execute(update(Event).where(Event.seq == 2).values(type="holding.released"))
    with sessions() as s:
        report = verify_chain(s)
    assert not report.ok and report.problem.seq == 2


def _append_two_at_once(
    pg_engine: Engine, sessions: sessionmaker[Session], station: str, t0: datetime
) -> tuple[Event, Event, bool]:
    """Two writers append to ``station``'s chain at once: the first appends and holds its
    transaction open; the second starts and appends; the first commits once the second is
    seen waiting on a lock (or the bound passes). Returns both events and whether the second
    was seen waiting. Threads hand over with events, never sleeps."""
    appended, commit, pid_known = threading.Event(), threading.Event(), threading.Event()
    pids: list[int] = []
    events: dict[str, Event] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with sessions.begin() as s:
                events["first"] = append_event(
                    s, station_id=station, type="holding.released", occurred_at=t0
                )
                appended.set()
                assert commit.wait(BOUND_S)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            appended.set()

    def second() -> None:
        try:
            with sessions.begin() as s:
                pids.append(s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                pid_known.set()
                events["second"] = append_event(
                    s, station_id=station, type="alarm.forced_open", occurred_at=t0
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            pid_known.set()

    a = threading.Thread(target=first)
    a.start()
    assert appended.wait(BOUND_S)
    b = threading.Thread(target=second)
    b.start()
    assert pid_known.wait(BOUND_S) and pids, errors
    waited = waits_on_lock(pg_engine, pids[0])
    commit.set()
    a.join(BOUND_S)
    b.join(BOUND_S)
    assert not errors, errors
    return events["first"], events["second"], waited


def test_two_writers_appending_at_once_on_postgres_take_turns_on_the_chain_head(pg_engine):
    """``append_event`` reads the chain head ``FOR UPDATE`` through the session's connection
    (plain statements since the exam rush): a second writer that starts while the first holds
    the head must wait and then chain onto the first's event, not fork the chain (the same
    seq twice fails on the unique index when the first commits). Threads hand over with
    events; the second writer is seen waiting on a lock in ``pg_stat_activity``."""
    from sqlalchemy import func, select

    from db.models import OutboxRow

    upgrade(pg_engine)
    sessions = make_session_factory(pg_engine)
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    with sessions.begin() as s:
        append_event(s, station_id="pg", type="holding.held", occurred_at=t0)
    first, second, waited = _append_two_at_once(pg_engine, sessions, "pg", t0)
    assert waited, "the second writer did not wait for the first"
    assert (first.seq, second.seq) == (2, 3)
    with sessions() as s:
        assert verify_chain(s).ok
        assert s.scalar(select(func.count(OutboxRow.id))) == 3


def test_two_writers_appending_the_first_event_of_a_new_station_on_postgres_take_turns(
    pg_engine,
):
    """A station's first event has no chain head row to read ``FOR UPDATE``: two writers
    that start at once both read "no head", and without more both wrote seq 1, the second
    failing on the unique index (an IntegrityError shown to staff) when the first committed.
    ``append_event`` then takes the station's advisory lock and reads the head again, so the
    second waits for the first and chains onto its event (seq 2). Threads hand over with
    events; the second writer is seen waiting on a lock in ``pg_stat_activity``."""
    from sqlalchemy import func, select

    from db.models import OutboxRow

    upgrade(pg_engine)
    sessions = make_session_factory(pg_engine)
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    with sessions.begin() as s:  # another station's chain: the new one must not join it
        append_event(s, station_id="pg-old", type="holding.held", occurred_at=t0)
    first, second, waited = _append_two_at_once(pg_engine, sessions, "pg-new", t0)
    assert waited, "the second writer did not wait for the first"
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.hash
    with sessions() as s:
        assert verify_chain(s).ok
        assert s.scalar(select(func.count(OutboxRow.id))) == 3


def test_only_a_stations_first_event_takes_the_new_chain_lock_on_postgres(pg_engine):
    """The advisory lock and second head read are for the first event only: once the head
    row exists its ``FOR UPDATE`` serialises writers, and an append stays four statements
    (head, event, head move, outbox row), as before the lock (issue 15, exam rush)."""
    from sqlalchemy import event

    upgrade(pg_engine)
    sessions = make_session_factory(pg_engine)
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(pg_engine, "before_cursor_execute", seen)
    try:
        appends = []
        for _ in range(2):
            with sessions.begin() as s:
                s.connection()  # the transaction's own statements before counting
                statements.clear()
                append_event(s, station_id="pg", type="holding.held", occurred_at=t0, payload={})
                appends.append(list(statements))
    finally:
        event.remove(pg_engine, "before_cursor_execute", seen)
    first, then = appends
    assert sum("pg_advisory_xact_lock" in q for q in first) == 1
    assert len(first) == 6
    assert len(then) == 4 and not any("pg_advisory" in q for q in then), then
