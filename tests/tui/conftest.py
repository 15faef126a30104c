"""Fixtures for the staff UI tests: a seeded demo school on simulated hardware, at a fixed time.

Why a fixed, settable clock: release rules depend on the time of day (not before 15:15) and
snapshots must not change with the wall clock. Why a hand-moved monotonic clock
(:class:`Ticker`): door timeouts and the auto-lock run on it, so "the door was not closed in
time" and "locked after 1 s with no input" happen when a test moves it, never because the
machine was slow (the cause of the flaky suite, issue 8).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import textual.app
import textual.pilot
from door_watch import UnlockWatch
from textual._queue import Queue
from tui_helpers import AFTERNOON, Clock, Ticker, counting_put_nowait, settled_wait_for_idle

from hardware.bundle import RC522Spec
from kiosk.config import KioskConfig
from kiosk.demo import demo_config, seed_demo
from kiosk.runtime import close_station, open_station
from kiosk.service import StationService
from kiosk.station import Station
from tui.app import KioskApp


@pytest.fixture(scope="session", autouse=True)
def _settled_key_presses() -> Iterator[None]:
    """The Pilot (each key, ``pilot.pause()``, a snapshot) waits for what the app has queued
    to be handled, not for the CPU to look idle for 20 ms (tui_helpers.settle, issue 8)."""
    patch = pytest.MonkeyPatch()
    patch.setattr(Queue, "put_nowait", counting_put_nowait)
    for module in (textual.app, textual.pilot):
        patch.setattr(module, "wait_for_idle", settled_wait_for_idle)
    yield
    patch.undo()


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed the demo school once (Argon2 hashing makes seeding cost a second or two)."""
    folder = tmp_path_factory.mktemp("demo-template")
    seed_demo(folder, now=AFTERNOON).close()
    return folder


#: How often the simulated card reader polls in these tests (the station's default is 0.12 s).
QUICK_POLL_S = 0.03


def quick_readers(config: KioskConfig) -> KioskConfig:
    """``config`` with its card readers polling every :data:`QUICK_POLL_S`.

    Why: a tap (``SimulatorPort.tap``) holds the card until the reader reports it, then waits
    for the reader to see it gone (three empty polls) so the next tap of the same card
    counts: about half a second a tap at the default 0.12 s, dozens of taps a test. The
    reader's code is the same at any interval (the config allows 0.005-1 s).
    """
    readers = tuple(
        replace(r, poll_interval_s=QUICK_POLL_S) if isinstance(r, RC522Spec) else r
        for r in config.hardware.readers
    )
    return config.model_copy(update={"hardware": replace(config.hardware, readers=readers)})


@pytest.fixture
def clock() -> Clock:
    return Clock(AFTERNOON)


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def station(
    tmp_path: Path, seeded_template: Path, clock: Clock, ticker: Ticker
) -> Iterator[Station]:
    """A private copy of the seeded school, on the simulator, with 1 s door timeouts that
    pass only when the test moves ``ticker``."""
    folder = tmp_path / "school"
    folder.mkdir()
    for f in seeded_template.iterdir():
        if f.is_file():
            (folder / f.name).write_bytes(f.read_bytes())
    st = open_station(
        quick_readers(demo_config(folder)),
        simulate=True,
        clock=clock,
        door_close_timeout=1.0,
        monotonic=ticker,
    )
    st.unlocks = UnlockWatch(st)  # type: ignore[attr-defined]
    yield st
    close_station(st)


@pytest.fixture
def service(station: Station) -> Iterator[StationService]:
    svc = StationService(station)
    yield svc
    svc.stop()


@pytest.fixture
def make_app(service: StationService) -> Callable[..., KioskApp]:
    def make(**kwargs: Any) -> KioskApp:
        kwargs.setdefault("idle_lock_seconds", 600)
        kwargs.setdefault("lock_check_interval", 0.05)
        return KioskApp(service, **kwargs)

    return make
