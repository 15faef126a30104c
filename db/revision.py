"""The schema revision this code needs, and the database's, without loading Alembic.

Why: every command that opens the ledger checks the database is at the code's schema.
Loading Alembic's script directory for that cost ~0.1 s and several MB at every start
(issue 15, start-up); the answer is one constant and one ``SELECT``. Alembic is loaded only
to migrate (:mod:`db.migrate`). ``tests/db/test_revision.py`` fails when a new migration is
added without moving :data:`HEAD_REVISION` to it.
"""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

#: The newest migration in db/migrations/versions (kept equal to Alembic's head by a test).
HEAD_REVISION = "0008_trust2_exam_cancel_reason"


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in ``alembic_version``; None for a database never migrated."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except (OperationalError, ProgrammingError):
        return None  # no alembic_version table yet
    return rows[0] if len(rows) == 1 else (",".join(sorted(rows)) or None)
