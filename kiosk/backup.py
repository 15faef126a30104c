"""Consistent backups of the SQLite ledger while the station runs, and a guarded restore.

Why the online backup API (:meth:`sqlite3.Connection.backup`) and not ``cp``: the ledger is in
WAL mode, so the newest committed records may still be in ``kiosk.db-wal``; a file copy taken
while the station writes can be torn or miss them. The backup API copies the database as one
read transaction sees it, all pages in a single step, so the copy is a consistent snapshot
and writers are not blocked (WAL readers never block writers).

Each copy is a self-contained file (journal mode DELETE), checked with
``PRAGMA integrity_check`` and the hash chain (:func:`db.audit.verify_chain`), fsynced, and
only then given its final name ``kiosk-YYYYMMDDTHHMMSSZ.db``; a half-written copy never
carries a backup's name. Rotation keeps the newest ``keep``.

Restore refuses while the station holds ``<data_dir>/hardware.lock``, refuses a file that
fails its integrity check or whose chain is broken, and keeps the replaced ledger (with its
``-wal``/``-shm``) in ``<data_dir>/replaced-<time>/``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine

from db.audit import ChainReport, verify_chain
from db.engine import make_session_factory
from kiosk.config import KioskConfig
from kiosk.hardware_lock import HardwareBusy, HardwareLock

BACKUP_NAME = re.compile(r"^kiosk-(\d{8}T\d{6}(?:\d{6})?Z)\.db$")


class BackupError(RuntimeError):
    """The backup or restore did not happen; the message says why and what to do."""


@dataclass(frozen=True)
class LedgerCheck:
    """What a ledger file holds, checked without changing it."""

    path: Path
    integrity: list[str]
    chain: ChainReport | None

    @property
    def ok(self) -> bool:
        return self.integrity == ["ok"] and self.chain is not None and self.chain.ok

    def problem(self) -> str:
        if self.integrity != ["ok"]:
            return f"integrity_check failed: {'; '.join(self.integrity[:5])}"
        if self.chain is None:
            return "it is not a kiosk ledger (no event log)"
        return f"its hash chain is broken: {self.chain.problem}"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    events: int
    removed: list[Path]


@dataclass(frozen=True)
class RestoreResult:
    restored_from: Path
    ledger: Path
    kept_aside: Path | None
    events: int


def ledger_path(config: KioskConfig) -> Path:
    """The SQLite file behind the station's database URL; other databases are refused."""
    url = config.database_url
    if not url.startswith("sqlite:///"):
        raise BackupError(
            f"the database {url} is not a SQLite file; back it up with its own tools "
            "(for PostgreSQL: pg_dump)"
        )
    return Path(url.removeprefix("sqlite:///"))


def check_ledger(path: Path) -> LedgerCheck:
    """``PRAGMA integrity_check`` and the hash chain of ``path``, opened read-only."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return LedgerCheck(path, [f"cannot open: {exc}"], None)
    try:
        integrity = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:  # "file is not a database"
        return LedgerCheck(path, [str(exc)], None)
    finally:
        conn.close()
    if integrity != ["ok"] or "events" not in tables:
        return LedgerCheck(path, integrity, None)
    engine = create_engine(f"sqlite:///file:{path.resolve()}?mode=ro&uri=true")
    try:
        with make_session_factory(engine)() as session:
            chain = verify_chain(session)
    finally:
        engine.dispose()
    return LedgerCheck(path, integrity, chain)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def backup_name(now: datetime) -> str:
    return f"kiosk-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%S%fZ')}.db"


def list_backups(folder: Path) -> list[Path]:
    """Backups in ``folder``, oldest first (the UTC time in the name sorts as text)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if BACKUP_NAME.match(p.name))


def take_backup(db_file: Path, folder: Path, *, keep: int, now: datetime) -> BackupResult:
    """Copy the live ledger ``db_file`` into ``folder``, check it, then drop all but ``keep``."""
    if keep < 1:
        raise BackupError("--keep must be at least 1")
    if not db_file.exists():
        raise BackupError(f"no ledger at {db_file}: run `kiosk db upgrade` first")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = folder / backup_name(now)
    partial = folder / f".{final.name}.partial"
    partial.unlink(missing_ok=True)
    try:
        source = sqlite3.connect(db_file, timeout=30)
        try:
            target = sqlite3.connect(partial)
            try:
                source.backup(target, pages=-1)  # one step: one consistent snapshot
                target.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            finally:
                target.close()
        finally:
            source.close()
        check = check_ledger(partial)
        if not check.ok:
            raise BackupError(
                f"the copy of {db_file} failed its check ({check.problem()}); no backup "
                "was kept. Run `kiosk audit verify` on the live ledger."
            )
        _fsync_file(partial)
        partial.rename(final)
        _fsync_dir(folder)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {db_file} to {folder} failed: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    removed = list_backups(folder)[:-keep]
    for old in removed:
        old.unlink()
    if removed:
        _fsync_dir(folder)
    assert check.chain is not None
    return BackupResult(final, final.stat().st_size, check.chain.events_checked, removed)


@contextlib.contextmanager
def station_stopped(data_dir: Path) -> Iterator[None]:
    """Hold the station's hardware lock for the duration, refusing if a station holds it now.

    The same lock :func:`kiosk.runtime.open_station` takes (:mod:`kiosk.hardware_lock`), so a
    running station refuses the restore, and a station cannot start half-way through one.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = HardwareLock(data_dir)
    try:
        lock.acquire("kiosk restore")
    except HardwareBusy as exc:
        raise BackupError(
            f"the station is running ({exc}): stop it first (`sudo systemctl stop kiosk`), "
            "then restore"
        ) from None
    try:
        yield
    finally:
        lock.release()


def restore_backup(backup: Path, db_file: Path, *, now: datetime) -> RestoreResult:
    """Replace the ledger ``db_file`` with ``backup``, keeping the old one aside.

    Order matters for a power cut at any point: the backup is copied next to the ledger and
    checked *before* anything is moved, so until the final rename the old ledger is in place,
    and after it the new one is; the old one is never deleted.
    """
    if not backup.is_file():
        raise BackupError(f"{backup}: no such backup file")
    companions = [db_file.with_name(db_file.name + s) for s in ("", "-wal", "-shm")]
    if backup.resolve() in {p.resolve() for p in companions}:
        raise BackupError(f"{backup} is the live ledger itself: choose a file from a backup folder")
    data_dir = db_file.parent
    incoming = data_dir / f".{db_file.name}.restoring"
    try:
        with station_stopped(data_dir):
            shutil.copyfile(backup, incoming)
            os.chmod(incoming, 0o600)
            if os.geteuid() == 0:  # run with sudo: the station's user must still own its ledger
                owner = data_dir.stat()
                os.chown(incoming, owner.st_uid, owner.st_gid)
            _fsync_file(incoming)
            check = check_ledger(incoming)
            if not check.ok or check.chain is None:
                raise BackupError(
                    f"{backup} cannot be restored: {check.problem()}. Try an older backup."
                )
            kept: Path | None = None
            present = [p for p in companions if p.exists()]
            if present:
                kept = data_dir / f"replaced-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"
                kept.mkdir(mode=0o700)
                for part in present:  # the -wal may hold committed records: move all three
                    part.rename(kept / part.name)
                _fsync_dir(kept)
            incoming.rename(db_file)
            _fsync_dir(data_dir)
    except OSError as exc:
        raise BackupError(f"restore of {backup} into {data_dir} failed: {exc}") from exc
    finally:
        incoming.unlink(missing_ok=True)
    return RestoreResult(backup, db_file, kept, check.chain.events_checked)
