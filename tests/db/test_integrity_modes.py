"""Integrity checks are asked for, not run on every open (issue 15), and both modes refuse
a damaged ledger: ``quick`` at station start, ``full`` nightly and before a migration."""

from __future__ import annotations

import sqlite3

import pytest

from db.engine import DatabaseCorrupt, check_integrity, make_engine
from db.migrate import upgrade


@pytest.fixture
def damaged(tmp_path):
    path = tmp_path / "bad.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    raw = sqlite3.connect(path)  # leave WAL so the whole database is in the one file
    raw.execute("PRAGMA journal_mode=DELETE")
    raw.close()
    data = bytearray(path.read_bytes())
    for i in range(4096 + 8, 4096 + 600):  # scribble over a table b-tree page
        data[i] = 0xA5
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_both_modes_refuse_a_damaged_ledger(damaged, mode):
    engine = make_engine(f"sqlite:///{damaged}")
    with pytest.raises(DatabaseCorrupt, match="integrity check"):
        check_integrity(engine, mode)
    engine.dispose()


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_a_sound_ledger_passes_and_the_check_takes_no_write_lock(tmp_path, mode):
    engine = make_engine(f"sqlite:///{tmp_path / 'ok.db'}")
    upgrade(engine)
    writer = sqlite3.connect(tmp_path / "ok.db", isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")  # someone holds the write lock meanwhile
    try:
        check_integrity(engine, mode)  # would fail "database is locked" if it took it
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    engine.dispose()
