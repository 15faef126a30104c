"""0004_retention rebuilds the tables events refer to with AUTOINCREMENT, without losing a row.

Dropping the old ``pupils`` table during a batch rebuild would cascade to ``contacts`` if
foreign keys were on; ``db.migrate`` runs migrations with them off and checks them after.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from db.engine import make_engine
from db.migrate import downgrade, upgrade

NOW = datetime(2026, 11, 17, 12, tzinfo=UTC).isoformat()


def _autoincrement_tables(engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(text("select name, sql from sqlite_master where type='table'"))
        return {name for name, sql in rows if sql and "AUTOINCREMENT" in sql}


def test_upgrade_from_0002_keeps_every_row_and_ids_are_never_reused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0003_auth")
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into pupils (id, mis_id, given_name, family_name, year_group, "
                "tutor_group, exemptions) values (5, 'M5', 'A', 'B', '7', '7A', '[]')"
            )
        )
        conn.execute(
            text(
                "insert into contacts (pupil_id, name, relationship, parental_responsibility, "
                "may_collect, priority) values (5, 'Parent', 'Mother', 1, 1, 1)"
            )
        )
        conn.execute(
            text(
                "insert into holdings (id, kind, state, pupil_id, device_description, reason, "
                "switched_off_confirmed, offence_number, follow_ups, "
                "requires_parent_collection, forbids_viewing, created_at) values (9, "
                "'confiscation', 'released', 5, 'phone', '', 1, 1, '[]', 0, 0, :now)"
            ),
            {"now": NOW},
        )
    upgrade(engine)
    assert _autoincrement_tables(engine) >= {
        "pupils",
        "contacts",
        "staff",
        "lockers",
        "holdings",
        "exam_sessions",
        "incidents",
        "events",
    }
    with engine.begin() as conn:
        assert conn.execute(text("select count(*) from contacts")).scalar() == 1
        assert conn.execute(text("select pupil_id from holdings")).scalar() == 5
        conn.execute(text("delete from holdings where id = 9"))
        conn.execute(
            text(
                "insert into holdings (kind, state, device_description, reason, "
                "switched_off_confirmed, offence_number, follow_ups, "
                "requires_parent_collection, forbids_viewing, created_at) values "
                "('confiscation', 'held', 'phone', '', 1, 1, '[]', 0, 0, :now)"
            ),
            {"now": NOW},
        )
        assert conn.execute(text("select id from holdings")).scalar() == 10  # not 9 again
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # back on afterwards
    downgrade(engine, "0003_auth")
    assert _autoincrement_tables(engine) == set()
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from contacts")).scalar() == 1
    engine.dispose()
