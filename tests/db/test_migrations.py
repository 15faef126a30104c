"""Migrations build the schema from nothing and agree with the models."""

from __future__ import annotations

from sqlalchemy import inspect, text

from db.engine import check_integrity, make_engine
from db.migrate import current_revision, head_revision, schema_drift, upgrade


def test_upgrade_from_empty_database_reaches_head_with_all_tables(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {
        "pupils",
        "contacts",
        "staff",
        "lockers",
        "holdings",
        "exam_sessions",
        "incidents",
        "events",
        "chain_heads",
        "outbox",
    } <= tables
    engine.dispose()


def test_models_and_migrations_agree(tmp_path):
    """Autogenerate check: a model change without a migration fails here."""
    engine = make_engine(f"sqlite:///{tmp_path / 'drift.db'}")
    upgrade(engine)
    assert schema_drift(engine) == []
    engine.dispose()


def test_upgrade_is_idempotent(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'twice.db'}")
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_sqlite_pragmas_are_set(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    engine.dispose()


def test_corrupt_database_is_refused(tmp_path):
    import pytest

    from db.engine import DatabaseCorrupt

    path = tmp_path / "bad.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    import sqlite3

    raw = sqlite3.connect(path)  # leave WAL so the whole database is in the one file
    raw.execute("PRAGMA journal_mode=DELETE")
    raw.close()
    data = bytearray(path.read_bytes())
    # Scribble over the second page (a table b-tree page) but keep the header valid.
    for i in range(4096 + 8, 4096 + 600):
        data[i] = 0xA5
    path.write_bytes(bytes(data))
    engine = make_engine(f"sqlite:///{path}")
    with pytest.raises(DatabaseCorrupt, match="integrity check"):
        check_integrity(engine)
    engine.dispose()


def test_older_database_with_data_is_brought_to_head(tmp_path):
    """`kiosk db upgrade` on a database left at the first schema keeps its rows."""
    from datetime import UTC, datetime

    from db.audit import verify_chain
    from db.engine import make_session_factory

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO pupils (mis_id, given_name, family_name, year_group, tutor_group, "
                "exemptions) VALUES ('X1', 'Ann', 'Lee', '9', '9B', '[]')"
            )
        )
    # Raw SQL, not append_event: the models describe the newest schema (e.g. the outbox's
    # quarantine columns of 0005_sync), which a 0001 database does not have yet.
    from wire import GENESIS_HASH, event_digest

    when = datetime(2026, 1, 5, 9, tzinfo=UTC)
    digest = event_digest(
        station_id="old",
        seq=1,
        type="holding.held",
        occurred_at=when,
        actor_id=None,
        holding_id=None,
        payload={},
        prev_hash=GENESIS_HASH,
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (station_id, seq, type, occurred_at, payload, prev_hash, "
                "hash) VALUES ('old', 1, 'holding.held', '2026-01-05 09:00:00.000000', '{}', "
                ":prev, :hash)"
            ),
            {"prev": GENESIS_HASH, "hash": digest},
        )
        conn.execute(
            text("INSERT INTO chain_heads (station_id, seq, hash) VALUES ('old', 1, :hash)"),
            {"hash": digest},
        )
        conn.execute(
            text(
                "INSERT INTO outbox (event_id, created_at, attempts) "
                "VALUES (1, '2026-01-05 09:00:00.000000', 0)"
            )
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    cols = {c["name"] for c in inspect(engine).get_columns("holdings")}
    assert {"override_reason", "override_by_id", "hold_lift_reason"} <= cols
    with engine.connect() as conn:
        assert conn.execute(text("SELECT given_name FROM pupils")).scalar() == "Ann"
    with make_session_factory(engine)() as s:
        assert verify_chain(s).ok
    engine.dispose()
