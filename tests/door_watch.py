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

import threading
from collections import Counter
from collections.abc import Callable
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
