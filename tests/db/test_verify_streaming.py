"""``audit verify`` streams (issue 15): no ORM objects are kept and the memory it needs does
not grow with the ledger. Tampering is still found (tests/db/test_audit_chain.py)."""

from __future__ import annotations

import gc
import json
import shutil
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from db.audit import VERIFY_BATCH, verify_chain
from db.engine import make_engine, make_read_session_factory, make_session_factory
from db.migrate import upgrade
from db.models import ChainHead, Event
from wire.chain import GENESIS_HASH, event_digest

T0 = datetime(2026, 9, 1, 8, tzinfo=UTC)


def fill(engine, n: int, station: str = "st") -> None:
    """A valid chain of ``n`` events (setup, not what is tested).

    Written through the driver in one ``executemany``, in the very form SQLAlchemy stores
    them on SQLite (time as ``YYYY-MM-DD HH:MM:SS.ffffff``, payload as JSON text): its
    per-row type processing was most of building the 40,000-event ledger. A row stored
    differently from what was hashed would make ``verify_chain`` report it.
    """
    prev = GENESIS_HASH
    rows = []
    for seq in range(1, n + 1):
        when = T0 + timedelta(seconds=seq)
        payload = {"previous": "depositing", "locker": f"A{seq % 40}"}
        digest = event_digest(
            station_id=station,
            seq=seq,
            type="holding.held",
            occurred_at=when,
            actor_id=seq % 50,
            holding_id=seq // 10,
            payload=payload,
            prev_hash=prev,
        )
        stored_when = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        stored_payload = json.dumps(payload)
        rows.append(
            (
                station,
                seq,
                "holding.held",
                stored_when,
                seq % 50,
                seq // 10,
                stored_payload,
                prev,
                digest,
            )
        )
        prev = digest
    with make_session_factory(engine).begin() as s:
        s.connection().exec_driver_sql(
            "INSERT INTO events (station_id, seq, type, occurred_at, actor_id, holding_id,"
            " payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        s.add(ChainHead(station_id=station, seq=n, hash=prev))


def peak_bytes(engine) -> tuple[int, int]:
    with make_read_session_factory(engine)() as s:
        gc.collect()
        tracemalloc.start()
        report = verify_chain(s)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert report.ok, report.problem
        assert len(s.identity_map) == 0, "verify kept ORM objects"
    return report.events_checked, peak


@pytest.mark.slow
def test_verify_memory_does_not_grow_with_the_ledger(tmp_path, migrated_sqlite_template):
    small = VERIFY_BATCH * 2
    big = small * 10
    peaks = {}
    for n in (small, big):
        path = tmp_path / f"{n}.db"
        shutil.copyfile(migrated_sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        fill(engine, n)
        checked, peaks[n] = peak_bytes(engine)
        assert checked == n
        engine.dispose()
    # Ten times the events; the peak is set by one batch of rows, not by the ledger.
    # (Holding every event costed ~2.3 KB each: 10x the events would be ~10x the peak.)
    assert peaks[big] < peaks[small] * 1.5, peaks


def test_streamed_verify_still_names_the_altered_event(migrated_sqlite):
    engine = make_engine(f"sqlite:///{migrated_sqlite}")
    fill(engine, VERIFY_BATCH * 2 + 10)
    victim = VERIFY_BATCH + 7  # in the second batch
    with make_session_factory(engine).begin() as s:
        s.execute(update(Event).where(Event.seq == victim).values(payload={"locker": "Z9"}))
    with make_read_session_factory(engine)() as s:
        report = verify_chain(s)
    assert report.problem is not None
    assert report.problem.seq == victim
    assert "contents altered" in report.problem.detail
    assert report.events_checked == victim
    engine.dispose()


def test_the_stored_time_shortcut_hashes_exactly_like_canonical_time(tmp_path):
    """verify reads SQLite's stored text; it must give the very string the chain hashed."""
    from sqlalchemy import String, select, type_coerce

    from db.chain_workers import canonical_stored_time
    from wire.chain import canonical_time

    engine = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    upgrade(engine)
    moments = [T0, T0.replace(microsecond=1), T0.replace(microsecond=999_999), T0 + timedelta(0.5)]
    with make_session_factory(engine).begin() as s:
        for i, when in enumerate(moments):
            s.add(
                Event(
                    station_id="st",
                    seq=i + 1,
                    type="t",
                    occurred_at=when,
                    payload={},
                    prev_hash="0",
                    hash=str(i),
                )
            )
    with make_read_session_factory(engine)() as s:
        stored = s.scalars(select(type_coerce(Event.occurred_at, String)).order_by(Event.id))
        assert [canonical_stored_time(x) for x in stored] == [canonical_time(m) for m in moments]
    engine.dispose()
