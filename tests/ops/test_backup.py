"""``kiosk backup`` / ``kiosk restore`` on a real SQLite ledger in WAL mode.

The central case (issue 16, Show): a backup taken while another thread keeps appending
hash-chained events restores to a ledger that passes ``integrity_check``, whose chain
verifies, and whose events are exactly the live ledger's first N events.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from db.audit import append_event, verify_chain
from db.engine import make_engine, make_session_factory, sqlite_url
from db.models import Event, Staff
from kiosk.auth import Argon2Params
from kiosk.backup import (
    BackupError,
    backup_name,
    check_ledger,
    list_backups,
    restore_backup,
    take_backup,
)
from kiosk.cli import main
from kiosk.config import parse_config
from kiosk.context import open_context

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
HEAD_BADGE, HEAD_PIN = "CAFE0001", "482915"
CHEAP_HASHER = Argon2Params(memory_kib=8, time_cost=1, parallelism=1).hasher()
STATION = "ops-test"
TIMEOUT = 60.0  # a failure bound only; every wait below ends on an event


def _config_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kiosk.toml"
    path.write_text(f'[station]\nid = "{STATION}"\ndata_dir = "."\n')
    return path


@pytest.fixture
def station(tmp_path: Path) -> Iterator[tuple[Path, sessionmaker[Session]]]:
    """A migrated ledger in ``tmp_path/station`` with 20 events, and a session factory."""
    data = tmp_path / "station"
    cfg = _config_file(data)
    ctx = open_context(
        parse_config({"station": {"id": STATION, "data_dir": str(data)}}, str(cfg)),
        migrate=True,
    )
    ctx.close()
    engine = make_engine(sqlite_url(data / "kiosk.db"))
    sessions = make_session_factory(engine)
    with sessions.begin() as s:  # the senior who may restore (kiosk restore --badge)
        s.add(
            Staff(
                staff_code="H1",
                name="Head",
                roles=["senior"],
                badge_uid=HEAD_BADGE,
                pin_hash=CHEAP_HASHER.hash(HEAD_PIN),
            )
        )
    for n in range(20):
        _append(sessions, n)
    yield data, sessions
    engine.dispose()


def _append(sessions: sessionmaker[Session], n: int) -> None:
    with sessions.begin() as s:
        append_event(
            s,
            station_id=STATION,
            type="test_write",
            occurred_at=T0 + timedelta(seconds=n),
            payload={"n": n},
        )


def _events(db_file: Path) -> list[tuple[int, int, str, str]]:
    engine: Engine = make_engine(sqlite_url(db_file))
    try:
        with make_session_factory(engine)() as s:
            rows = s.execute(select(Event.id, Event.seq, Event.type, Event.hash).order_by(Event.id))
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        engine.dispose()


def _cli(*args: object) -> tuple[int, str]:
    argv = [str(a) for a in args]
    signed = "restore" in argv  # kiosk restore needs a senior's badge and PIN
    if signed:
        argv += ["--badge", HEAD_BADGE]
    result = CliRunner().invoke(
        main, argv, catch_exceptions=False, input=f"{HEAD_PIN}\n" if signed else None
    )
    return result.exit_code, result.output


def test_backup_while_writing_restores_identical_checked_ledger(
    station: tuple[Path, sessionmaker[Session]], tmp_path: Path
) -> None:
    data, sessions = station
    started, stop = threading.Event(), threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            n = 1000
            while not stop.is_set():
                _append(sessions, n)
                written.append(n)
                n += 1
                if len(written) == 25:
                    started.set()
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)
            started.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    assert started.wait(TIMEOUT)
    try:
        code, out = _cli("--config", data / "kiosk.toml", "backup", "--dir", tmp_path / "bk")
        writes_during_backup = len(written)
    finally:
        stop.set()
        thread.join(TIMEOUT)
    assert not errors, errors
    assert code == 0, out
    assert "integrity ok, chain ok" in out
    assert writes_during_backup >= 25
    [copy] = list_backups(tmp_path / "bk")

    # Restore into a second station folder, as on a replacement Pi.
    target = tmp_path / "replacement"
    cfg = _config_file(target)
    code, out = _cli("--config", cfg, "restore", "--yes", copy)
    assert code == 0, out
    restored = target / "kiosk.db"

    check = check_ledger(restored)
    assert check.integrity == ["ok"]
    assert check.chain is not None and check.chain.ok
    live, got = _events(data / "kiosk.db"), _events(restored)
    *got, last = got  # the restore itself, recorded in the restored chain
    assert last[2] == "ledger.restored"
    conn = sqlite3.connect(restored)
    actor, payload = conn.execute(
        "SELECT actor_id, payload FROM events WHERE type = 'ledger.restored'"
    ).fetchone()
    conn.close()
    assert actor == 1 and '"signed_in_against": "backup"' in payload  # no ledger here yet
    assert len(got) >= 20 + 25  # the seeded events and the writer's first batch
    assert got == live[: len(got)], "the backup is a prefix of the live chain, event for event"
    engine = make_engine(sqlite_url(restored))
    with make_session_factory(engine)() as s:
        assert verify_chain(s).ok
    engine.dispose()
    assert os.stat(restored).st_mode & 0o077 == 0, "the restored ledger is 0600"


def test_backup_file_is_self_contained_and_named_by_utc_time(
    station: tuple[Path, sessionmaker[Session]], tmp_path: Path
) -> None:
    data, _ = station
    result = take_backup(data / "kiosk.db", tmp_path / "bk", keep=3, now=T0)
    assert result.path.name == "kiosk-20260302T083000000000Z.db"
    assert result.events == 20
    conn = sqlite3.connect(result.path)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    conn.close()
    assert [p.name for p in (tmp_path / "bk").iterdir()] == [result.path.name]


def test_rotation_keeps_the_newest(
    station: tuple[Path, sessionmaker[Session]], tmp_path: Path
) -> None:
    data, _ = station
    folder = tmp_path / "bk"
    (folder).mkdir()
    (folder / "notes.txt").write_text("not a backup: left alone")
    times = [T0 + timedelta(days=d) for d in range(5)]
    for when in times:
        take_backup(data / "kiosk.db", folder, keep=2, now=when)
    assert [p.name for p in list_backups(folder)] == [backup_name(t) for t in times[-2:]]
    assert (folder / "notes.txt").exists()


def test_restore_refuses_while_the_station_holds_the_lock(
    station: tuple[Path, sessionmaker[Session]], tmp_path: Path
) -> None:
    data, _ = station
    copy = take_backup(data / "kiosk.db", tmp_path / "bk", keep=1, now=T0).path
    before = (data / "kiosk.db").read_bytes()
    fd = os.open(data / "hardware.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the running station does
        code, out = _cli("--config", data / "kiosk.toml", "restore", "--yes", copy)
    finally:
        os.close(fd)
    assert code == 2
    assert "station is running" in out and "systemctl stop kiosk" in out
    assert (data / "kiosk.db").read_bytes() == before
    assert not list(data.glob("replaced-*"))


def test_restore_refuses_damaged_or_tampered_files(
    station: tuple[Path, sessionmaker[Session]], tmp_path: Path
) -> None:
    data, _ = station
    good = take_backup(data / "kiosk.db", tmp_path / "bk", keep=1, now=T0).path
    before = (data / "kiosk.db").read_bytes()

    torn = tmp_path / "torn.db"
    raw = good.read_bytes()
    torn.write_bytes(raw[: len(raw) // 2] + b"\xff" * 4096 + raw[len(raw) // 2 + 4096 :])
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    tampered = tmp_path / "tampered.db"
    tampered.write_bytes(raw)
    conn = sqlite3.connect(tampered)
    conn.execute("UPDATE events SET payload = '{\"n\": 99}' WHERE seq = 5")
    conn.commit()
    conn.close()

    for bad, why in ((torn, "integrity_check failed"), (garbage, "integrity_check failed")):
        with pytest.raises(BackupError, match=why):
            restore_backup(bad, data / "kiosk.db", now=T0)
    code, out = _cli("--config", data / "kiosk.toml", "restore", "--yes", tampered)
    assert code == 2 and "hash chain is broken" in out and "seq 5" in out
    assert (data / "kiosk.db").read_bytes() == before
    assert not list(data.glob("replaced-*"))


def test_restore_keeps_the_replaced_ledger_with_its_wal(
    station: tuple[Path, sessionmaker[Session]], tmp_path: Path
) -> None:
    data, sessions = station
    copy = take_backup(data / "kiosk.db", tmp_path / "bk", keep=1, now=T0).path
    _append(sessions, 500)  # a record newer than the backup, maybe only in the -wal yet
    sessions.kw["bind"].dispose()  # type: ignore[union-attr]
    live_before = _events(data / "kiosk.db")
    result = restore_backup(copy, data / "kiosk.db", now=T0 + timedelta(hours=1))
    assert result.kept_aside == data / "replaced-20260302T093000Z"
    assert _events(result.kept_aside / "kiosk.db") == live_before
    assert len(_events(data / "kiosk.db")) == len(live_before) - 1


def test_backup_refuses_without_a_ledger(tmp_path: Path) -> None:
    cfg = _config_file(tmp_path / "empty")
    code, out = _cli("--config", cfg, "backup")
    assert code == 2
    assert "run `kiosk db upgrade` first" in out
    assert not (tmp_path / "empty" / "backups").exists() or not list_backups(
        tmp_path / "empty" / "backups"
    )


def test_restore_refuses_the_live_ledger_itself(
    station: tuple[Path, sessionmaker[Session]],
) -> None:
    data, _ = station
    before = _events(data / "kiosk.db")
    code, out = _cli("--config", data / "kiosk.toml", "restore", "--yes", data / "kiosk.db")
    assert code == 2 and "is the live ledger itself" in out
    assert _events(data / "kiosk.db") == before
    assert not list(data.glob("replaced-*"))


def test_restore_needs_a_senior_signed_in(
    station: tuple[Path, sessionmaker[Session]], tmp_path: Path
) -> None:
    data, _ = station
    copy = take_backup(data / "kiosk.db", tmp_path / "bk", keep=1, now=T0).path
    cfg = data / "kiosk.toml"
    before = _events(data / "kiosk.db")
    nobody = CliRunner().invoke(main, ["--config", str(cfg), "restore", "--yes", str(copy)])
    assert nobody.exit_code == 2 and "needs a member of staff's sign-in" in nobody.output
    wrong = CliRunner().invoke(
        main,
        ["--config", str(cfg), "restore", "--yes", str(copy), "--badge", HEAD_BADGE],
        input="000000\n",
    )
    assert wrong.exit_code == 2 and "Wrong PIN" in wrong.output
    assert not list(data.glob("replaced-*"))
    assert [e[2] for e in _events(data / "kiosk.db")[len(before) :]] == ["auth.failed"]
    code, out = _cli("--config", cfg, "restore", "--yes", copy)  # the head, signed in
    assert code == 0, out
    restored = _events(data / "kiosk.db")
    assert restored[-1][2] == "ledger.restored"
