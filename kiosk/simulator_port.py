"""What a UI (the simulator panel), ``kiosk run --headless --sim-commands`` and tests may do to
the simulated hardware: a port the station exposes, so no caller holds the simulator itself.

Why a port: the UI may not import ``hardware`` (layer rule) and must not reach into the
simulator's internals; and "tap a card" has to mean the same deterministic thing everywhere:
the card is presented until the reader has reported it, then taken away until the reader has
noticed, so the next tap of the same card counts. Waits are bounded by ``timeout`` as a
failure bound only; nothing waits for a fixed time.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Protocol

from hardware.ports import BadgeTapped, DoorState
from kiosk.station import Station

if TYPE_CHECKING:
    from hardware.simulator import Simulator


class SimulatorPort(Protocol):
    """Controls of the simulated hardware."""

    @property
    def jammed(self) -> frozenset[tuple[str, int]]: ...

    def tap(self, uid: str, timeout: float = 5.0) -> bool: ...

    def door_states(self) -> dict[tuple[str, int], DoorState]: ...

    def open_door(self, bank: str, number: int) -> None: ...

    def close_door(self, bank: str, number: int) -> None: ...

    def force_open(self, bank: str, number: int) -> None: ...

    def jam(self, bank: str, number: int, jammed: bool = True) -> None: ...


class StationSimulator:
    """:class:`SimulatorPort` over the station's simulator."""

    def __init__(self, station: Station) -> None:
        sim = station.hardware.simulator
        if sim is None:
            raise ValueError("this station runs on real hardware: there is no simulator")
        self._sim: Simulator = sim
        self._station = station
        self._jammed: set[tuple[str, int]] = set()

    @property
    def jammed(self) -> frozenset[tuple[str, int]]:
        return frozenset(self._jammed)

    def tap(self, uid: str, timeout: float = 5.0) -> bool:
        """Present ``uid`` until the station has passed the tap on, then take it away.

        Blocks (call it off the UI thread). True if the tap reached the station's listeners.
        """
        seen = threading.Event()

        def watch(event: object) -> None:
            if isinstance(event, BadgeTapped) and event.uid.upper() == uid.upper():
                seen.set()

        self._station.subscribe(watch)
        try:
            self._sim.tap(uid)
            ok = seen.wait(timeout)
        finally:
            self._sim.remove_card()
            self._station.unsubscribe(watch)
        # The reader forgets the card only after a few empty polls; until then a second tap
        # of the same card would not count.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(
            getattr(r, "current_uid", None) is not None for r in self._station.hardware.readers
        ):
            threading.Event().wait(0.01)
        return ok

    def door_states(self) -> dict[tuple[str, int], DoorState]:
        return self._station.door_states()

    def open_door(self, bank: str, number: int) -> None:
        self._sim.open_door(bank, number)

    def close_door(self, bank: str, number: int) -> None:
        self._sim.close_door(bank, number)

    def force_open(self, bank: str, number: int) -> None:
        self._sim.force_open(bank, number)

    def jam(self, bank: str, number: int, jammed: bool = True) -> None:
        self._sim.jam(bank, number, jammed)
        if jammed:
            self._jammed.add((bank, number))
        else:
            self._jammed.discard((bank, number))
