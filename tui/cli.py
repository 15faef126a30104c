"""The ``kiosk`` console script: the ``kiosk`` command group with the staff UI plugged in.

``kiosk`` itself never imports ``tui`` (layer rule), so the UI is handed to it here as the
launcher that ``kiosk demo`` and ``kiosk run`` call, and the UI-only commands are added.
"""

from __future__ import annotations

from kiosk.config import KioskConfig


def launch_staff_ui(config: KioskConfig, *, simulate: bool) -> None:
    """Imported lazily: Textual costs start-up time the non-UI commands should not pay."""
    from tui.app import run_app

    run_app(config, simulate=simulate)


def main() -> None:
    from kiosk.cli import main as kiosk_main

    kiosk_main(obj={"ui": launch_staff_ui})
