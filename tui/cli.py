"""The ``kiosk`` console script: the ``kiosk`` command group with the UI parts plugged in.

``kiosk`` itself never imports ``tui`` (layer rule), so the staff UI is handed to it here as
the launcher that ``kiosk demo`` and ``kiosk run`` call, and ``kiosk signage`` (a Textual app
of its own) is added to the group.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kiosk.config import KioskConfig
from kiosk.posters import print_posters


def launch_staff_ui(config: KioskConfig, *, simulate: bool) -> None:
    """Imported lazily: Textual costs start-up time the non-UI commands should not pay."""
    from tui.app import run_app

    run_app(config, simulate=simulate)


@click.command()
@click.option(
    "--print",
    "print_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write A4 wall posters for every zone instead: FILE.pdf (one page per zone) "
    "or FILE.svg (one SVG per zone, named FILE-<zone>.svg).",
)
@click.option("--interval", default=8.0, show_default=True, help="Seconds per notice.")
@click.pass_context
def signage(ctx: click.Context, print_to: Path | None, interval: float) -> None:
    """Public signage: camera-free zones, phone rules, exam notices (full screen)."""
    config: KioskConfig = ctx.find_object(dict)["config"]  # type: ignore[index]
    if print_to is not None:
        try:
            written = print_posters(config, print_to)
        except ValueError as exc:
            click.echo(f"kiosk: {exc}", err=True)
            sys.exit(2)
        for path in written:
            click.echo(f"wrote {path}")
        return
    from kiosk.context import NotReady, open_context
    from kiosk.signage import SignageFeed
    from tui.signage import SignageApp

    try:
        k = open_context(config)
    except NotReady as exc:
        click.echo(f"kiosk: {exc}", err=True)
        sys.exit(2)
    try:
        SignageApp(SignageFeed.for_context(k), interval=interval).run()
    finally:
        k.close()


def main() -> None:
    from kiosk.cli import main as kiosk_main

    kiosk_main.add_command(signage)
    kiosk_main(obj={"ui": launch_staff_ui})
