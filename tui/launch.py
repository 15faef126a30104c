"""The UI launchers the ``kiosk`` command loads through the ``kiosk.ui`` entry points.

Why entry points: ``kiosk`` (the application and its console script) must not import
``tui`` (layer rule) nor pay for Textual on commands that show no screen (``kiosk --help``,
``kiosk holdings``, ``kiosk signage --print``); the UI plugs itself in when installed.
"""

from __future__ import annotations

import sys

from kiosk.config import KioskConfig


def launch_staff_ui(config: KioskConfig, *, simulate: bool) -> None:
    """``kiosk run`` / ``kiosk demo``: the staff UI on this terminal."""
    import click

    from tui.app import run_app

    # ``kiosk demo`` marks its click context (``meta["kiosk.demo"]``): only the demo may quit
    # with one key; ``kiosk run`` on a configured station needs a technician's sign-in.
    ctx = click.get_current_context(silent=True)
    demo = bool(ctx is not None and ctx.meta.get("kiosk.demo"))
    run_app(config, simulate=simulate, demo=demo)


def launch_signage(config: KioskConfig, *, interval: float) -> None:
    """``kiosk signage``: the public signage screen, full screen."""
    from kiosk.context import NotReady, open_context
    from kiosk.signage import SignageFeed
    from tui.signage import SignageApp

    try:
        k = open_context(config)
    except NotReady as exc:
        sys.stderr.write(f"kiosk: {exc}\n")
        raise SystemExit(2) from exc
    try:
        SignageApp(SignageFeed.for_context(k), interval=interval).run()
    finally:
        k.close()
