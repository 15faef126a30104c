"""Tampering with any event row must make verification fail at that row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from db.audit import append_event, verify_chain
from db.engine import make_engine, make_session_factory
from db.models import Event, OutboxRow

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def sessions(migrated_sqlite):
    engine = make_engine(f"sqlite:///{migrated_sqlite}")
    factory = make_session_factory(engine)
    with factory.begin() as s:
        for i in range(6):
            append_event(
                s,
                station_id="st-1",
                type="holding.held",
                occurred_at=T0 + timedelta(minutes=i),
                holding_id=i,
                payload={"n": i},
            )
        append_event(s, station_id="st-2", type="auth.signed_in", occurred_at=T0, actor_id=3)
    yield factory
    engine.dispose()


def test_untouched_chain_verifies_and_every_event_has_an_outbox_row(sessions):
    with sessions() as s:
        report = verify_chain(s)
        assert report.ok, report.problem
        assert report.events_checked == 7
        assert (
            s.scalar(
                select(OutboxRow).where(OutboxRow.event_id == 7).with_only_columns(OutboxRow.id)
            )
            is not None
        )
        assert len(s.scalars(select(OutboxRow)).all()) == 7


def test_seq_is_per_station(sessions):
    with sessions() as s:
        seqs = {(e.station_id, e.seq) for e in s.scalars(select(Event))}
    assert ("st-2", 1) in seqs and ("st-1", 6) in seqs


def test_changed_payload_is_named(sessions):
    with sessions.begin() as s:
        s.execute(update(Event).where(Event.id == 3).values(payload={"n": 99}))
    with sessions() as s:
        report = verify_chain(s)
    assert not report.ok
    assert report.problem.event_id == 3
    assert "altered" in str(report.problem)


def test_changed_time_is_detected(sessions):
    with sessions.begin() as s:
        s.execute(update(Event).where(Event.id == 2).values(occurred_at=T0 + timedelta(hours=5)))
    with sessions() as s:
        assert verify_chain(s).problem.event_id == 2


def test_deleted_middle_row_is_named(sessions):
    with sessions.begin() as s:
        s.execute(text("DELETE FROM outbox WHERE event_id = 4"))
        s.execute(text("DELETE FROM events WHERE id = 4"))
    with sessions() as s:
        report = verify_chain(s)
    assert not report.ok
    assert report.problem.event_id == 5
    assert "expected seq 4" in str(report.problem)


def test_deleted_newest_row_is_detected_by_the_chain_head(sessions):
    with sessions.begin() as s:
        s.execute(text("DELETE FROM outbox WHERE event_id = 6"))
        s.execute(text("DELETE FROM events WHERE id = 6"))
    with sessions() as s:
        report = verify_chain(s)
    assert not report.ok
    assert "newest events deleted" in str(report.problem)


def test_reordered_rows_are_detected(sessions):
    # Swap the contents of rows 2 and 3 (ids stay in order, contents do not).
    with sessions.begin() as s:
        rows = {e.id: e for e in s.scalars(select(Event).where(Event.id.in_([2, 3])))}
        cols = ["seq", "type", "occurred_at", "holding_id", "payload", "prev_hash", "hash"]
        a = {c: getattr(rows[2], c) for c in cols}
        b = {c: getattr(rows[3], c) for c in cols}
        s.execute(update(Event).where(Event.id == 2).values(hash="x" * 64, seq=-2))
        s.execute(update(Event).where(Event.id == 3).values(**a))
        s.execute(update(Event).where(Event.id == 2).values(**b))
    with sessions() as s:
        report = verify_chain(s)
    assert not report.ok
    assert report.problem.event_id == 2


def test_concurrent_writers_never_share_a_sequence_number(sessions):
    """The UI holds a write transaction while the alarm thread appends: nothing is lost.

    Synchronised by events, not sleeps: the UI keeps its transaction open until the alarm
    thread is on its way into its own, so the two overlap; whatever the scheduler does, the
    UI's write lock makes the alarm's event come second, never with the same seq."""
    import threading

    errors: list[BaseException] = []
    ui_writing, alarm_writing = threading.Event(), threading.Event()

    def ui() -> None:
        try:
            with sessions.begin() as s:
                append_event(s, station_id="st-1", type="auth.signed_out", occurred_at=T0)
                ui_writing.set()
                assert alarm_writing.wait(30)  # a slow use-case still inside its transaction
        except BaseException as exc:
            errors.append(exc)

    def alarm() -> None:
        try:
            assert ui_writing.wait(30)
            alarm_writing.set()
            with sessions.begin() as s:
                append_event(s, station_id="st-1", type="alarm.forced_open", occurred_at=T0)
        except BaseException as exc:
            errors.append(exc)

    first = threading.Thread(target=ui)
    second = threading.Thread(target=alarm)
    first.start()
    second.start()
    first.join()
    second.join()
    assert errors == []
    with sessions() as s:
        types = [e.type for e in s.scalars(select(Event).order_by(Event.seq))]
        assert verify_chain(s).ok
    assert types[-2:] == ["auth.signed_out", "alarm.forced_open"]
