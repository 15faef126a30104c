"""Starting and stopping a whole station: ledger + hardware + :class:`Station`.

Why a module of its own: ``kiosk run``, ``kiosk demo``, the staff UI and its tests must all
build a station the same way (the same hardware config, the same door timeouts) and tear it
down in the same order (threads stopped, locks driven off, pins and ports released, database
closed). The UI may not import ``hardware`` (layer rule), so the UI reaches the simulator only
through :attr:`Station.hardware` as handed to it here.
"""

from __future__ import annotations

import contextlib
import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from hardware.printer import ReceiptPrinter
from kiosk.config import KioskConfig
from kiosk.context import open_context
from kiosk.custody import utcnow
from kiosk.hardware_config import build_hardware
from kiosk.hardware_lock import HardwareLock
from kiosk.service import StationService
from kiosk.simulator_port import SimulatorPort, StationSimulator
from kiosk.station import Station


def open_station(
    config: KioskConfig,
    *,
    simulate: bool,
    clock: Callable[[], datetime] = utcnow,
    door_close_timeout: float = 90.0,
    migrate: bool = False,
    monotonic: Callable[[], float] = time.monotonic,
    purpose: str = "kiosk station",
) -> Station:
    """Take the hardware lock, open the ledger, build the hardware and join them in a Station.

    Raises :class:`~kiosk.hardware_lock.HardwareBusy` if another process owns the hardware,
    before any pin or port is touched. The station is not started: the caller starts it
    (through :class:`~kiosk.service.StationService`) so that start-up reconciliation items
    reach a person. Close it with :func:`close_station`.
    """
    lock = HardwareLock(config.station.data_dir)
    lock.acquire(purpose)
    try:
        ctx = open_context(config, migrate=migrate, clock=clock, integrity="quick")
    except Exception:
        lock.release()
        raise
    try:
        bundle = build_hardware(config.hardware, simulate)
    except Exception:
        ctx.close()
        lock.release()
        raise
    station = Station(ctx, bundle, door_close_timeout=door_close_timeout, monotonic=monotonic)
    station.hardware_lock = lock
    if simulate:
        station.printer = ReceiptPrinter("simulated")
    elif config.printer.kind != "none":
        station.printer = ReceiptPrinter(config.printer.kind, config.printer.address)
    return station


def close_station(station: Station) -> None:
    """Stop threads, drive every lock off, release pins/ports, close the database.

    Safe to call on a station that was never started, and safe to call twice.
    """
    with contextlib.suppress(Exception):
        station.stop()
    with contextlib.suppress(Exception):
        station.hardware.close()
    station.ctx.close()
    if station.hardware_lock is not None:
        station.hardware_lock.release()


def simulator_of(station: Station) -> SimulatorPort | None:
    """The simulator controls of this station, or None on real hardware."""
    if station.hardware.simulator is None:
        return None
    return StationSimulator(station)


def service_of(station: Station) -> StationService:
    """The station service for ``station`` (one per station: it subscribes to its events)."""
    return StationService(station)


@dataclass(frozen=True)
class DemoCard:
    """A card a newcomer can "tap" from the simulator panel."""

    uid: str
    label: str
    kind: str  # "staff" | "pupil"
    pin: str | None = None


def demo_cards() -> list[DemoCard]:
    """Staff badges (with their printed demo PINs) and pupil cards of the demo school.

    Read from the demo data files rather than the ledger: the simulator panel must not need a
    signed-in person to list cards, and pupil data must not be read without one.
    """
    from kiosk.demo import DEMO_BADGES, DEMO_DATA

    cards: list[DemoCard] = []
    names: dict[str, str] = {}
    with (DEMO_DATA / "staff.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            names[row["Badge UID"].upper()] = row["Name"]
    for role, (uid, pin) in DEMO_BADGES.items():
        cards.append(DemoCard(uid, f"{names.get(uid, role)} - {role} - PIN {pin}", "staff", pin))
    with (DEMO_DATA / "pupils.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            name = f"{row['Legal Forename']} {row['Legal Surname']}"
            cards.append(DemoCard(row["Card UID"].upper(), f"{name} - {row['Reg Group']}", "pupil"))
    return cards
