"""The keyed anchor is written off the commit path (issue 15) and still proves what it did.

The use-case's commit must not wait for the anchor file's fsync (it used to, before every
unlock); the anchor must still reach every commit (flush on close, before an in-process
verify), coalesce a burst into one write of the newest heads, and ``kiosk audit verify``
must still catch a deleted tail with ``chain_heads`` rewritten. Threads are synchronised on
events only: the anchor's file write is held on a ``threading.Event`` the test controls.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from db.models import ChainHead
from kiosk import audit_anchor
from kiosk.cli import main


def _confiscate(demo, pupil: str = "Jack"):
    return demo.custody.confiscate(
        demo.staff["office"],
        pupil_id=demo.pupils[pupil],
        category="unauthorised_use",
        device_description="grey phone",
        switched_off_confirmed=True,
    )


def _head(demo) -> tuple[str, int, str]:
    with demo.ctx.sessions() as s:
        h = s.scalars(select(ChainHead)).one()
        return h.station_id, h.seq, h.hash


def _anchored(folder: Path, station: str) -> int:
    data = json.loads((folder / audit_anchor.ANCHOR_FILE).read_text())
    return int(data["stations"][station]["seq"])


@pytest.fixture
def held_writes(demo, monkeypatch):
    """Hold every anchor file write until the test sets ``release``; record what is written.

    The demo's own last commits may still be on their way to the anchor file: they are
    written first (with the real writer), so what the test holds is only its own."""
    demo.ctx.anchor.flush()
    release = threading.Event()
    entered = threading.Event()
    writes: list[dict[str, tuple[int, str]]] = []
    real = audit_anchor.record_heads

    def slow(data_dir, key_file, heads):  # type: ignore[no-untyped-def]
        entered.set()
        release.wait(timeout=30)  # the old synchronous write would hold the commit here
        writes.append(dict(heads))
        real(data_dir, key_file, heads)

    monkeypatch.setattr(audit_anchor, "record_heads", slow)
    yield release, entered, writes
    release.set()


def test_the_commit_returns_before_the_anchor_is_written(demo, held_writes):
    release, entered, writes = held_writes
    folder = demo.ctx.config.station.data_dir
    station, before, _ = _head(demo)
    _confiscate(demo)  # returns although the anchor write is held: it is off the path
    assert entered.wait(timeout=30)  # the writer took it up ...
    assert writes == []  # ... and has not written yet
    assert _anchored(folder, station) == before
    release.set()
    demo.ctx.anchor.flush()
    _, seq, digest = _head(demo)
    assert seq > before
    assert _anchored(folder, station) == seq
    assert writes[-1] == {station: (seq, digest)}


def test_a_burst_is_coalesced_into_one_write_of_the_newest_head(demo, held_writes):
    release, entered, writes = held_writes
    _confiscate(demo, "Jack")
    assert entered.wait(timeout=30)  # first write in flight, held
    _confiscate(demo, "Ella")
    _confiscate(demo, "Harry")
    station, seq, digest = _head(demo)
    release.set()
    demo.ctx.anchor.flush()
    assert len(writes) == 2, writes  # the held one, then the two later commits as one
    assert writes[1] == {station: (seq, digest)}
    assert writes[0][station][0] < seq


def test_close_flushes_the_anchor(demo, held_writes):
    release, entered, _writes = held_writes
    _confiscate(demo)
    station, seq, _ = _head(demo)
    assert entered.wait(timeout=30)
    release.set()
    demo.ctx.close()  # waits for the write
    assert _anchored(demo.ctx.config.station.data_dir, station) == seq


def test_tail_deletion_after_a_background_anchor_still_fails_verify(demo):
    """Verify in the same process flushes the writer first, so there is no race to lose."""
    _confiscate(demo)
    folder = demo.ctx.config.station.data_dir
    con = sqlite3.connect(folder / "kiosk.db")
    last_id, last_seq = con.execute(
        "SELECT id, seq FROM events ORDER BY id DESC LIMIT 1"
    ).fetchone()
    (prev,) = con.execute("SELECT hash FROM events WHERE seq = ?", (last_seq - 1,)).fetchone()
    con.execute("DELETE FROM outbox WHERE event_id = ?", (last_id,))
    con.execute("DELETE FROM events WHERE id = ?", (last_id,))
    con.execute("UPDATE chain_heads SET seq = ?, hash = ?", (last_seq - 1, prev))
    con.commit()
    con.close()
    result = CliRunner().invoke(
        main, ["--config", str(folder / "kiosk.toml"), "audit", "verify"], catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    assert f"reached seq {last_seq}" in result.output
    assert "newest events were deleted" in result.output


def test_a_failed_anchor_write_is_logged_not_raised(demo, monkeypatch, caplog):
    def broken(*_a):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(audit_anchor, "record_heads", broken)
    _confiscate(demo)  # the commit stands
    demo.ctx.anchor.flush()
    assert "could not update the audit anchor: disk full" in caplog.text


def test_a_rolled_back_append_is_never_anchored(demo):
    """``append_event`` notes its head in ``Session.info`` (plain INSERTs, no ORM object for
    the flush hook to see); a rollback must drop the note, or the next commit of the same
    session would anchor an event that does not exist and verify would cry tampering."""
    from db.audit import append_event

    demo.ctx.anchor.flush()
    folder = demo.ctx.config.station.data_dir
    station, before, _ = _head(demo)
    s = demo.ctx.sessions()
    try:
        s.begin()
        append_event(s, station_id=station, type="auth.signed_out", occurred_at=demo.clock())
        s.rollback()
        s.begin()  # a later transaction of the same session that writes no event
        s.commit()
    finally:
        s.close()
    demo.ctx.anchor.flush()
    assert _anchored(folder, station) == before
    _confiscate(demo)  # takes the rolled-back seq on, with other hashes
    demo.ctx.anchor.flush()
    _, seq, _ = _head(demo)
    assert seq > before and _anchored(folder, station) == seq
    with demo.ctx.sessions() as s:
        assert audit_anchor.check(s, folder, demo.ctx.config.anchor_key_path) is None


def test_an_append_closed_without_commit_is_never_anchored(demo):
    """``Session.close()`` ends the transaction without ``after_rollback``: the note of the
    head it never committed must go with it, or a later commit of the same session anchors
    an event that does not exist."""
    from db.audit import append_event

    demo.ctx.anchor.flush()
    folder = demo.ctx.config.station.data_dir
    station, before, _ = _head(demo)
    s = demo.ctx.sessions()
    s.begin()
    append_event(s, station_id=station, type="auth.signed_out", occurred_at=demo.clock())
    s.close()  # e.g. an error left a ``with sessions() as s`` block before its commit
    s.begin()  # the session used again: a transaction that writes no event
    s.commit()
    s.close()
    demo.ctx.anchor.flush()
    assert _anchored(folder, station) == before
    with demo.ctx.sessions() as r:
        assert audit_anchor.check(r, folder, demo.ctx.config.anchor_key_path) is None
