"""``kiosk backup`` and ``kiosk restore``: the click side of :mod:`kiosk.backup`.

Kept apart from ``kiosk/cli.py`` so that file only registers them (one line each).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from kiosk.backup import BackupError, ledger_path, restore_backup, take_backup
from kiosk.config import KioskConfig


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
