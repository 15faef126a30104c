"""``kiosk run`` paints the locked "starting" screen before the station is open (issue 15).

The opener is held on a ``threading.Event`` the test controls, so the order is shown, not
timed: the first frame is :class:`StartingScreen` while the opener has not returned (no
card can reach a station that is not open), then the idle screen replaces it; an opener
that fails ends the app with code 2 and keeps the error for ``run_app`` to print.
"""

from __future__ import annotations

import asyncio
import threading

from tui_helpers import run_async

from kiosk.service import StationService
from kiosk.station import Station
from tui.app import KioskApp
from tui.screens.idle import IdleScreen
from tui.screens.starting import StartingScreen


@run_async
async def test_the_starting_screen_comes_first_and_the_idle_screen_follows(station: Station):
    entered, release = threading.Event(), threading.Event()
    services: list[StationService] = []

    def opener() -> StationService:
        entered.set()
        release.wait(timeout=60)
        services.append(StationService(station))
        return services[0]

    app = KioskApp(config=station.ctx.config, opener=opener, lock_check_interval=0.05)
    try:
        async with app.run_test() as pilot:
            assert await asyncio.to_thread(entered.wait, 60)  # opened after the first frame
            assert isinstance(app.screen, StartingScreen)
            assert not app.ready and app.opened is None
            release.set()
            await asyncio.to_thread(app.join_opener)
            for _ in range(20):
                if isinstance(app.screen, IdleScreen):
                    break
                await pilot.pause()
            assert isinstance(app.screen, IdleScreen)
            assert app.ready and app.opened is services[0]
            assert [type(s) for s in app.screen_stack][-1] is IdleScreen
            assert not any(isinstance(s, StartingScreen) for s in app.screen_stack)
    finally:
        release.set()
        for svc in services:
            svc.stop()


@run_async
async def test_a_station_that_cannot_open_ends_the_app_with_its_reason(station: Station):
    def opener() -> StationService:
        raise RuntimeError("the database is at schema none")

    app = KioskApp(config=station.ctx.config, opener=opener)
    async with app.run_test() as pilot:
        await asyncio.to_thread(app.join_opener)
        for _ in range(20):
            if app.return_code is not None:
                break
            await pilot.pause()
    assert app.return_code == 2
    assert "schema none" in str(app.open_error)
    assert app.opened is None


def test_the_first_frame_needs_no_ledger_modules():
    """What ``kiosk run`` imports before its first frame: the CLI, the launcher, the app and
    the starting screen, in a fresh interpreter; SQLAlchemy and Argon2 come with the station
    in the opener thread (issue 15). ``kiosk.runtime`` is the peer: it does pull them in,
    so the check can fail."""
    import subprocess
    import sys

    probe = (
        "import sys, importlib; [importlib.import_module(m) for m in sys.argv[1:]]; "
        "print(sorted(m for m in ('sqlalchemy', 'argon2', 'db.models', 'gpiozero') "
        "if m in sys.modules))"
    )
    first = ["kiosk.cli", "tui.launch", "tui.app", "tui.screens.starting", "tui.messages"]
    out = subprocess.run(
        [sys.executable, "-c", probe, *first], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out
    peer = subprocess.run(
        [sys.executable, "-c", probe, "kiosk.runtime"], capture_output=True, text=True, check=True
    ).stdout
    assert "sqlalchemy" in peer, peer
