"""Operations commands: ``kiosk backup``, ``kiosk restore`` and ``kiosk signage-page``.

The click side of :mod:`kiosk.backup` and :mod:`kiosk.signage_page`, kept apart from
``kiosk/cli.py`` so that file only registers them (one line each).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from kiosk.backup import BackupError, ledger_path, restore_backup, take_backup
from kiosk.config import KioskConfig
from kiosk.watchdog import notify_ready, notify_watchdog, watchdog_interval


def _config(ctx: click.Context) -> KioskConfig:
    return ctx.find_object(dict)["config"]  # type: ignore[index]


def _fail(message: str) -> None:
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
@click.pass_context
def restore(ctx: click.Context, file: Path, yes: bool) -> None:
    """Replace the ledger with backup FILE (the station must be stopped).

    The replaced ledger is kept in <data_dir>/replaced-<time>/. Records made after FILE was
    taken are not in it: they stay in that folder.
    """
    config = _config(ctx)
    try:
        db_file = ledger_path(config)
    except BackupError as exc:
        _fail(str(exc))
    if not yes:
        click.confirm(f"Replace {db_file} with {file}?", abort=True)
    try:
        result = restore_backup(file, db_file, now=datetime.now(UTC))
    except BackupError as exc:
        _fail(str(exc))
    click.echo(f"restored {result.ledger} from {file}: {result.events} events, chain ok")
    if result.kept_aside:
        click.echo(f"the replaced ledger is kept in {result.kept_aside}")
    click.echo("next: `kiosk db upgrade` (if the backup is older than this code), then start")


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
