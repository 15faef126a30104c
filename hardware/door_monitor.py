"""Door monitor: turns door-sensor readings into DoorOpened / DoorClosed / ForcedOpen / LeftOpen /
SensorFault events.

It must know whether an unlock is in flight, or every legitimate opening would look forced. So
it *wraps* the lock banks: :meth:`DoorMonitor.guard` returns a :class:`MonitoredLockBank` whose
``unlock`` marks the locker as expected-to-open for the unlock and a short grace period after it.
The kiosk should only ever use the guarded banks (``HardwareBundle.lock_banks`` are guarded).

It polls (``poll()``; a daemon thread calls it every ``interval_s``) rather than relying on edge
callbacks, because RS-485 boards can only be polled and one code path is easier to trust. The
clock is injectable so tests drive time by hand.

Event rules:
* CLOSED -> OPEN: ``DoorOpened``; plus ``ForcedOpen`` if no unlock was in flight or in grace.
* OPEN -> CLOSED: ``DoorClosed``.
* OPEN for longer than ``left_open_limit_s``: one ``LeftOpen`` per opening.
* a reading of UNKNOWN: one ``SensorFault`` until the sensor reads again.
* the first reading after start-up is a baseline (no events); a door found open at start-up
  still raises ``LeftOpen`` after the limit. Reconciliation is the kiosk's job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hardware.ports import (
    DoorClosed,
    DoorOpened,
    DoorState,
    EventSink,
    ForcedOpen,
    LeftOpen,
    LockBank,
    SensorFault,
    UnlockOutcome,
)

log = logging.getLogger(__name__)


@dataclass
class _Door:
    state: DoorState | None = None
    open_since: float | None = None
    left_open_sent: bool = False


class DoorMonitor:
    """Watches every door of the given banks."""

    def __init__(
        self,
        banks: Sequence[LockBank],
        on_event: EventSink | None = None,
        *,
        left_open_limit_s: float = 60.0,
        unlock_grace_s: float = 5.0,
        interval_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._banks = {b.name: b for b in banks}
        self.on_event = on_event
        self.left_open_limit_s = left_open_limit_s
        self.unlock_grace_s = unlock_grace_s
        self.interval_s = interval_s
        self._clock = clock
        self._doors: dict[tuple[str, int], _Door] = {}
        self._in_flight: dict[tuple[str, int], int] = {}
        self._expect_until: dict[tuple[str, int], float] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_poll: float | None = None
        self.guarded: dict[str, MonitoredLockBank] = {
            name: MonitoredLockBank(bank, self) for name, bank in self._banks.items()
        }

    def guard(self, bank: LockBank) -> MonitoredLockBank:
        return self.guarded[bank.name]

    # -- unlock bookkeeping -------------------------------------------------------------------
    def begin_unlock(self, bank: str, number: int) -> None:
        with self._lock:
            key = (bank, number)
            self._in_flight[key] = self._in_flight.get(key, 0) + 1

    def end_unlock(self, bank: str, number: int) -> None:
        with self._lock:
            key = (bank, number)
            self._in_flight[key] = max(0, self._in_flight.get(key, 0) - 1)
            self._expect_until[key] = self._clock() + self.unlock_grace_s

    def _expected(self, key: tuple[str, int], now: float) -> bool:
        return self._in_flight.get(key, 0) > 0 or now <= self._expect_until.get(key, -1.0)

    # -- polling ------------------------------------------------------------------------------
    def _emit(self, event: object) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:
            log.exception("door monitor: event handler raised")

    def poll(self) -> list[object]:
        """Read every door once and emit (and return) the resulting events."""
        events: list[object] = []
        for name, bank in self._banks.items():
            try:
                states = bank.door_states()
            except Exception as exc:  # a bank must not raise, but if one does: UNKNOWN
                log.error("bank %s: door_states raised: %s", name, exc)
                states = dict.fromkeys(bank.numbers(), DoorState.UNKNOWN)
            with self._lock:
                now = self._clock()
                for number, state in states.items():
                    events.extend(self._update(name, number, state, now))
        for event in events:
            self._emit(event)
        with self._lock:
            self._last_poll = self._clock()
        return events

    def seconds_since_poll(self) -> float | None:
        """How long since the last complete read of every door (None: never): the liveness a
        watchdog checks, since a hung bus or monitor thread stops exactly this."""
        with self._lock:
            return None if self._last_poll is None else self._clock() - self._last_poll

    def _update(self, bank: str, number: int, state: DoorState, now: float) -> list[object]:
        key = (bank, number)
        door = self._doors.setdefault(key, _Door())
        prev = door.state
        out: list[object] = []
        if state is DoorState.UNKNOWN:
            if prev is not DoorState.UNKNOWN:
                out.append(SensorFault(bank, number, "door sensor unreadable", at=now))
            door.state = state
            return out
        if prev is None or prev is DoorState.UNKNOWN:
            # Baseline (start-up or after a sensor fault): no guessing about what happened.
            if state is DoorState.OPEN and door.open_since is None:
                door.open_since = now
            if state is DoorState.CLOSED:
                door.open_since, door.left_open_sent = None, False
        elif prev is DoorState.CLOSED and state is DoorState.OPEN:
            out.append(DoorOpened(bank, number, at=now))
            if not self._expected(key, now):
                out.append(ForcedOpen(bank, number, at=now))
            door.open_since, door.left_open_sent = now, False
        elif prev is DoorState.OPEN and state is DoorState.CLOSED:
            out.append(DoorClosed(bank, number, at=now))
            door.open_since, door.left_open_sent = None, False
        door.state = state
        if (
            state is DoorState.OPEN
            and door.open_since is not None
            and not door.left_open_sent
            and now - door.open_since >= self.left_open_limit_s
        ):
            door.left_open_sent = True
            out.append(LeftOpen(bank, number, round(now - door.open_since, 3), at=now))
        return out

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="door-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:
                log.exception("door monitor poll failed")
            self._stop.wait(self.interval_s)


class MonitoredLockBank:
    """A LockBank proxy that tells the monitor when an unlock is in flight."""

    def __init__(self, inner: LockBank, monitor: DoorMonitor) -> None:
        self.inner = inner
        self.name = inner.name
        self._monitor = monitor

    def numbers(self) -> list[int]:
        return self.inner.numbers()

    def unlock(self, number: int) -> UnlockOutcome:
        self._monitor.begin_unlock(self.name, number)
        try:
            return self.inner.unlock(number)
        finally:
            self._monitor.end_unlock(self.name, number)

    def door_state(self, number: int) -> DoorState:
        return self.inner.door_state(number)

    def door_states(self) -> dict[int, DoorState]:
        return self.inner.door_states()

    def occupied(self, number: int) -> bool | None:
        return self.inner.occupied(number)

    def all_off(self) -> None:
        self.inner.all_off()

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, item: str) -> object:
        # Adapter extras (raw_door_bit, latch_locked, last_detail...) pass through.
        return getattr(self.inner, item)
