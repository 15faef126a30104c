"""Helpers shared by the hardware tests (a plain module: tests/ has no packages)."""

from __future__ import annotations

import time
from collections.abc import Callable

from hardware.gpio_locks import LockTimings

FAST = LockTimings(pulse_s=0.05, confirm_timeout_s=0.25, poll_s=0.005)


def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll ``cond`` until true or timeout; returns the final value (so asserts can fail).

    ``timeout`` is a failure bound, never an outcome: generous, as a loaded CI machine can
    stall a thread for seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return cond()
