"""The person at the hatch closes a door only once the station has seen it open.

Why: a door step's unlock (``hardware.gpio_locks.GpioLockBank.unlock``, the RS-485 one alike)
pulses the lock and then reads the door sensor every ``poll_s`` until it reads open. A test
that closes the door as soon as *it* reads it open can close it before the station's next
read: the station then never saw it open, gives the locker up as "did not open" after
``confirm_timeout_s`` and aborts the deposit. No person opens and shuts a locker within a
poll (20 ms); a loaded machine that delays the station's read made the test do it
(tests/kiosk/test_service.py::test_lock_with_door_open_then_closed_confirms, issue 8).
:class:`UnlockWatch` counts the unlocks in flight per door, so a test can wait for them.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class UnlockWatch:
    """Wraps each lock bank's ``unlock`` of a station: unlocks in flight and returned, per door."""

    def __init__(self, station: Any) -> None:
        self._guard = threading.Lock()
        self.in_flight: Counter[tuple[str, int]] = Counter()
        self.returned: Counter[tuple[str, int]] = Counter()
        for name, bank in station.banks.items():
            bank.unlock = self._watched(name, bank.unlock)

    def _watched(self, bank: str, unlock: Callable[[int], Any]) -> Callable[[int], Any]:
        def watched(number: int) -> Any:
            with self._guard:
                self.in_flight[(bank, number)] += 1
            try:
                return unlock(number)
            finally:
                with self._guard:
                    self.in_flight[(bank, number)] -= 1
                    self.returned[(bank, number)] += 1

        return watched

    def settled(self, bank: str, number: int) -> bool:
        """No unlock of this door is running: the station has read whatever it pulsed."""
        with self._guard:
            return self.in_flight[(bank, number)] == 0


#: How long a test lets a lock bank wait for a door it has jammed (``Simulator.jam``).
JAM_GIVE_UP_S = 0.1


@contextmanager
def quick_jam_give_up(station: Any, seconds: float = JAM_GIVE_UP_S) -> Iterator[None]:
    """While in the block, every lock bank gives a door up after ``seconds``, not 3 s.

    For a door the test has jammed: it never opens, so how long the bank waits changes only
    how long the test takes, not the outcome (JAMMED from the latch feedback or the board's
    answer, else DID_NOT_OPEN; see ``GpioLockBank.unlock``, ``RS485LockBank.unlock``). The
    same ``LockTimings.confirm_timeout_s`` the station config sets (bench/crash_station.py
    gives up after 1 s the same way); each unlock reads it once, as it starts, so unlocks
    after the block wait the full time again. Other doors keep their 3 s: a door that does
    open is never raced against this short time.
    """
    # The station's banks are door-monitor proxies (hardware.door_monitor.MonitoredLockBank):
    # the timings live on the bank inside.
    banks = [getattr(bank, "inner", bank) for bank in station.banks.values()]
    saved = [bank.timings for bank in banks]  # AttributeError, not a silent 3 s, if moved
    for bank in banks:
        bank.timings = dataclasses.replace(bank.timings, confirm_timeout_s=seconds)
    try:
        yield
    finally:
        for bank, timings in zip(banks, saved, strict=True):
            bank.timings = timings
