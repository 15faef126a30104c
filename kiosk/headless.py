"""``kiosk run --headless``: the station with doors and alarms and no screen (no Textual).

Why: the kiosk must keep phones safe when no UI runs or the UI has crashed (DESIGN.md,
Layers): forced and left-open doors are still alarms in the ledger (and so reach the central
log), locks are still driven off at start-up, half-way holdings are still reconciled.
It runs until SIGTERM/SIGINT, printing one line per thing the station reports.

With ``--simulate`` the simulated hardware can be driven by commands, one per line, from a
file or ``-`` (stdin): ``tap UID``, ``open A 3``, ``close A 3``, ``force A 3``, ``jam A 3``,
``unjam A 3``. That is how a newcomer pokes a headless demo and how the tests drive it; the
commands go through the same :class:`~kiosk.simulator_port.SimulatorPort` as the UI's panel.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import IO, TextIO

from kiosk.config import KioskConfig
from kiosk.memory import freeze_startup_heap
from kiosk.runtime import close_station, open_station, simulator_of
from kiosk.service import AlarmsChanged, StationService, StationStarted
from kiosk.simulator_port import SimulatorPort
from kiosk.watchdog import notify_ready

READY = "station ready"


def _door(args: list[str]) -> tuple[str, int]:
    if len(args) != 2 or not args[1].isdigit():
        raise ValueError("expected a bank and a locker number, e.g. `force A 3`")
    return args[0], int(args[1])


def sim_command(sim: SimulatorPort, line: str) -> str:
    """Run one simulator command; returns what happened, in words."""
    verb, *args = line.split()
    if verb == "tap" and len(args) == 1:
        return f"tapped {args[0]}" if sim.tap(args[0]) else f"{args[0]} was not read"
    doors: dict[str, Callable[[str, int], None]] = {
        "open": sim.open_door,
        "close": sim.close_door,
        "force": sim.force_open,
        "jam": lambda b, n: sim.jam(b, n, True),
        "unjam": lambda b, n: sim.jam(b, n, False),
    }
    if verb not in doors:
        raise ValueError(
            f"unknown command {verb!r}: use tap UID, open/close/force/jam/unjam BANK N"
        )
    bank, number = _door(args)
    doors[verb](bank, number)
    return f"{verb} {bank}{number}"


def _read_commands(sim: SimulatorPort, source: IO[str], out: TextIO, stop: threading.Event) -> None:
    for raw in source:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            out.write(f"sim: {sim_command(sim, line)}\n")
        except Exception as exc:
            out.write(f"sim: line {line!r} refused: {exc}\n")
        out.flush()
    if source is sys.stdin or getattr(source, "name", None) == "<stdin>":
        stop.set()  # stdin closed: whoever drove us is gone


def _describe(news: object) -> str:
    if isinstance(news, StationStarted):
        if news.error:
            return f"start failed: {news.error}"
        return f"started; {len(news.reconcile)} holding(s) to settle after a restart"
    if isinstance(news, AlarmsChanged):
        return "alarms: " + ("; ".join(news.alarms.values()) or "none")
    return f"event: {type(news).__name__} {vars(news) if hasattr(news, '__dict__') else news}"


def run_headless(
    config: KioskConfig,
    *,
    simulate: bool,
    commands: IO[str] | None = None,
    out: TextIO = sys.stdout,
) -> None:
    """Open and start the station, report until a signal (or the end of stdin commands)."""
    station = open_station(config, simulate=simulate, purpose="kiosk run --headless")
    stop = threading.Event()
    service = StationService(station)
    write_lock = threading.Lock()

    def report(news: object) -> None:
        with write_lock:
            out.write(_describe(news) + "\n")
            out.flush()

    service.subscribe(report)
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        started = service.start()
        if started.error:
            raise RuntimeError(started.error)
        freeze_startup_heap()  # full collections no longer walk it at a tap (kiosk/memory.py)
        with write_lock:
            out.write(f"{READY} (pid {os.getpid()})\n")
            out.flush()
        notify_ready(f"station {config.station.id} up (headless)")  # no-op outside systemd
        if commands is not None:
            sim = simulator_of(station)
            if sim is None:
                raise RuntimeError("--sim-commands needs --simulate")
            threading.Thread(
                target=_read_commands, args=(sim, commands, out, stop), daemon=True
            ).start()
        stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        service.stop()
        close_station(station)
