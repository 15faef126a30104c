"""Operations commands: ``kiosk backup``, ``kiosk restore`` and ``kiosk signage-page``.

The click side of :mod:`kiosk.backup` and :mod:`kiosk.signage_page`, kept apart from
``kiosk/cli.py`` so that file only registers them (one line each).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click

from kiosk.backup import (
    BackupError,
    check_ledger,
    ledger_path,
    restore_backup,
    station_stopped,
    take_backup,
)
from kiosk.cli_auth import badge_option, needs_sign_in
from kiosk.cli_auth import sign_in as cli_sign_in
from kiosk.config import KioskConfig
from kiosk.permissions import Permission
from kiosk.watchdog import notify_ready, notify_watchdog, watchdog_interval
from wire.vocabulary import EventType


def _config(ctx: click.Context) -> KioskConfig:
    return ctx.find_object(dict)["config"]  # type: ignore[index]


def _fail(message: str) -> NoReturn:
    click.echo(f"kiosk: {message}", err=True)
    sys.exit(2)


@click.command()
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the backup (default: <data_dir>/backups).",
)
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=14,
    show_default=True,
    help="How many backups to keep in that folder; older ones are deleted.",
)
@click.pass_context
def backup(ctx: click.Context, folder: Path | None, keep: int) -> None:
    """Copy the ledger while the station runs: consistent, integrity-checked, rotated."""
    config = _config(ctx)
    try:
        db_file = ledger_path(config)
        result = take_backup(
            db_file, folder or config.station.data_dir / "backups", keep=keep, now=datetime.now(UTC)
        )
    except BackupError as exc:
        _fail(str(exc))
    click.echo(
        f"backup {result.path}: {result.size} bytes, {result.events} events, integrity ok, chain ok"
    )
    for old in result.removed:
        click.echo(f"removed old backup {old.name} (keeping {keep})")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@badge_option
@click.pass_context
def restore(ctx: click.Context, file: Path, yes: bool, badge: str | None) -> None:
    """Replace the ledger with backup FILE (the station must be stopped). Needs a signed-in
    senior, recorded in the restored ledger (``ledger.restored``).

    The senior signs in against the current ledger; if there is none or it cannot be opened
    (the usual reason to restore), against FILE itself. The replaced ledger is kept in
    <data_dir>/replaced-<time>/. Records made after FILE was taken are not in it: they stay
    in that folder.
    """
    config = _config(ctx)
    if not badge:
        _fail(needs_sign_in("restore", Permission.RESTORE_BACKUP))
    try:
        db_file = ledger_path(config)
    except BackupError as exc:
        _fail(str(exc))
    if not file.is_file():
        _fail(f"{file}: no such backup file")
    # What needs no person is refused before anyone signs in (a sign-in writes to the live
    # ledger): a running station, the live ledger itself, a damaged or tampered file.
    companions = {db_file.with_name(db_file.name + x).resolve() for x in ("", "-wal", "-shm")}
    if file.resolve() in companions:
        _fail(f"{file} is the live ledger itself: choose a file from a backup folder")
    check = check_ledger(file)
    if not check.ok or check.chain is None:
        _fail(f"{file} cannot be restored: {check.problem()}. Try an older backup.")
    try:
        with station_stopped(db_file.parent):
            pass
    except BackupError as exc:
        _fail(str(exc))
    staff_id, against = _restore_sign_in(config, file, badge)
    if not yes:
        click.confirm(f"Replace {db_file} with {file}?", abort=True)
    try:
        result = restore_backup(file, db_file, now=datetime.now(UTC))
    except BackupError as exc:
        _fail(str(exc))
    recorded = _record_restore(config, db_file, staff_id, file, result.events, against)
    click.echo(f"restored {result.ledger} from {file}: {result.events} events, chain ok")
    if result.kept_aside:
        click.echo(f"the replaced ledger is kept in {result.kept_aside}")
    if not recorded:
        click.echo("(the restore could not be recorded in the restored ledger: see above)")
    click.echo("next: `kiosk db upgrade` (if the backup is older than this code), then start")


def _restore_sign_in(config: KioskConfig, backup_file: Path, badge: str) -> tuple[int, str]:
    """Sign a senior in for ``kiosk restore``; returns (staff id, "current" | "backup").

    Against the live ledger when it opens (its lockout counts); else against a scratch copy
    of the backup, the ledger that is about to become the record.
    """
    import shutil
    import tempfile

    from db.engine import DatabaseCorrupt
    from kiosk.config import DatabaseConfig
    from kiosk.context import NotReady, open_context

    def attempt(cfg: KioskConfig, against: str) -> tuple[int, str]:
        k = open_context(cfg)
        try:
            me = cli_sign_in(k, badge, Permission.RESTORE_BACKUP, command="restore")
            k.custody.sign_out(me, "kiosk restore: the ledger is replaced next")
            return me.staff_id, against
        finally:
            k.close()

    try:
        return attempt(config, "current")
    except (NotReady, DatabaseCorrupt, OSError):
        pass
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "sign-in.db"
        shutil.copyfile(backup_file, scratch)
        cfg = config.model_copy(update={"database": DatabaseConfig(url=f"sqlite:///{scratch}")})
        try:
            return attempt(cfg, "backup")
        except (NotReady, DatabaseCorrupt) as exc:
            _fail(
                f"cannot sign you in: the current ledger cannot be opened and neither can "
                f"{backup_file} ({exc}); nothing was changed"
            )


def _record_restore(
    config: KioskConfig, db_file: Path, staff_id: int, file: Path, events: int, against: str
) -> bool:
    """A ``ledger.restored`` event naming the senior, in the restored ledger's own chain."""
    from db.audit import append_event
    from db.engine import make_engine, make_session_factory, sqlite_url

    engine = make_engine(sqlite_url(db_file))
    try:
        with make_session_factory(engine).begin() as s:
            append_event(
                s,
                station_id=config.station.id,
                type=EventType.LEDGER_RESTORED,
                occurred_at=datetime.now(UTC),
                actor_id=staff_id,
                payload={"backup": file.name, "events": events, "signed_in_against": against},
            )
        return True
    except Exception as exc:  # an older schema: the restore stands, the note says so
        click.echo(f"kiosk: could not record the restore: {exc}", err=True)
        return False
    finally:
        engine.dispose()


@click.command("signage-page")
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for index.html and signage.json (e.g. /run/kiosk-signage).",
)
@click.option(
    "--every",
    type=click.FloatRange(min=5),
    default=30.0,
    show_default=True,
    help="Seconds between rewrites (exam notices appear and end on time).",
)
@click.option("--once", is_flag=True, help="Write the page once and stop.")
@click.option("--interval", default=8.0, show_default=True, help="Seconds per notice.")
@click.pass_context
def signage_page(
    ctx: click.Context, folder: Path, every: float, once: bool, interval: float
) -> None:
    """Write the public signage as a web page for a second screen (docs/day-one.md)."""
    from kiosk.context import NotReady, open_context
    from kiosk.signage import SignageFeed
    from kiosk.signage_page import write_page

    try:
        k = open_context(_config(ctx))
    except NotReady as exc:
        _fail(str(exc))
    try:
        feed = SignageFeed.for_context(k)
        page = write_page(folder, feed, datetime.now(UTC), interval_s=interval)
        click.echo(f"wrote {page}")
        if once:
            return
        notify_ready()
        # Type=notify with WatchdogSec=: a loop that stops writing is restarted by systemd.
        pause = min(every, watchdog_interval() or every)
        written = time.monotonic()
        while True:
            time.sleep(pause)
            if time.monotonic() - written >= every:
                write_page(folder, feed, datetime.now(UTC), interval_s=interval)
                written = time.monotonic()
            notify_watchdog()
    finally:
        k.close()
