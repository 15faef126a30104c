"""The stored head revision matches Alembic's, so start-up need not load Alembic."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine

from db.migrate import current_revision, head_revision, upgrade
from db.revision import HEAD_REVISION, stored_revision


def test_head_revision_constant_is_alembics_head() -> None:
    assert head_revision() == HEAD_REVISION, "move db/revision.py HEAD_REVISION to the new head"


def test_stored_revision_reads_what_alembic_wrote(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'k.db'}")
    assert stored_revision(engine) is None
    upgrade(engine, "0005_sync")
    assert stored_revision(engine) == current_revision(engine) == "0005_sync"
    upgrade(engine)
    assert stored_revision(engine) == HEAD_REVISION
    engine.dispose()
