"""Shared test helpers: a movable clock fixed on a school day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: Tuesday 17 November 2026, 12:00 in London (GMT = UTC in winter).
T0 = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, hh: int, mm: int = 0, days: int = 0) -> None:
        self.now = T0.replace(hour=hh, minute=mm) + timedelta(days=days)


class Ticker:
    """A monotonic clock the test moves by hand (door timeouts, auto-lock); thread-safe."""

    def __init__(self, start: float = 1000.0) -> None:
        import threading

        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def wait_until(condition, timeout: float = 20.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    """Poll ``condition`` until true; ``timeout`` is a failure bound, never an outcome."""
    import threading
    import time

    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        pause.wait(0.01)
