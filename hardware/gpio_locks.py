"""Lock bank wired straight to the Pi's GPIO header, driven with gpiozero.

Each locker has a lock output (relay or MOSFET feeding a 12 V solenoid), a door input (reed
switch) and optionally an occupancy input and a latch-feedback input. Why gpiozero: it gives us
an injectable ``pin_factory`` so the very same classes run against ``MockFactory`` in tests and the
simulator, and against lgpio/RPi.GPIO on a Pi.

Safety rules (DESIGN.md, "Physical truth vs. database truth"):

* every output is constructed with ``initial_value=False`` and driven off again straight after
  construction: locks are fail-secure and nothing opens by itself after a power cut;
* a lock is only ever *pulsed* with ``blink(n=1)``: gpiozero's own thread turns it off after
  ``pulse_s``, so a crash in our code cannot leave a solenoid energised (they overheat when held);
* a door that cannot be read is ``UNKNOWN``; an unlock is confirmed by the door sensor.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hardware.ports import DoorState, UnlockOutcome

if TYPE_CHECKING:  # gpiozero loads when a bank is built, not with the specs (issue 15)
    from gpiozero import DigitalInputDevice, DigitalOutputDevice
    from gpiozero.pins import Factory

log = logging.getLogger(__name__)

PinId = int | str


@dataclass(frozen=True)
class LockTimings:
    """Timings shared by lock banks. Short values are for tests; defaults suit 12 V solenoids."""

    pulse_s: float = 0.5
    """How long the lock output is on. Solenoid locks are rated for short duty cycles."""
    confirm_timeout_s: float = 3.0
    """How long after the pulse starts we wait for the door sensor to report OPEN."""
    poll_s: float = 0.02
    """How often the door sensor is re-read while confirming."""


@dataclass(frozen=True)
class GpioLockSpec:
    """Wiring of one locker. Pin ids are BCM numbers (gpiozero's default), e.g. ``17``.

    Polarity is per pin because relay boards differ (many cheap ones are active-low) and reed
    switches can be wired normally-open or normally-closed. See docs/hardware.md to calibrate.
    """

    number: int
    lock_pin: PinId
    door_pin: PinId
    lock_active_high: bool = True
    door_pull_up: bool = True
    door_closed_high: bool = False
    """Raw level meaning "door closed". Reed to GND + pull-up, magnet on the door: closed = low."""
    occupancy_pin: PinId | None = None
    occupancy_pull_up: bool = True
    occupied_high: bool = False
    latch_pin: PinId | None = None
    """Optional lock feedback switch (many solenoid locks have one): tells JAMMED apart."""
    latch_pull_up: bool = True
    latch_locked_high: bool = False


class _Locker:
    """The gpiozero devices of one locker."""

    def __init__(self, spec: GpioLockSpec, pin_factory: Factory | None) -> None:
        from gpiozero import DigitalInputDevice, DigitalOutputDevice

        self.spec = spec
        self.lock = DigitalOutputDevice(
            spec.lock_pin,
            active_high=spec.lock_active_high,
            initial_value=False,
            pin_factory=pin_factory,
        )
        self.door = DigitalInputDevice(
            spec.door_pin, pull_up=spec.door_pull_up, pin_factory=pin_factory
        )
        self.occupancy = (
            DigitalInputDevice(
                spec.occupancy_pin, pull_up=spec.occupancy_pull_up, pin_factory=pin_factory
            )
            if spec.occupancy_pin is not None
            else None
        )
        self.latch = (
            DigitalInputDevice(spec.latch_pin, pull_up=spec.latch_pull_up, pin_factory=pin_factory)
            if spec.latch_pin is not None
            else None
        )

    def close(self) -> None:
        for dev in (self.lock, self.door, self.occupancy, self.latch):
            if dev is not None:
                dev.close()


def _raw(dev: DigitalInputDevice) -> bool:
    """Raw electrical level of an input, independent of gpiozero's pull-up inversion.

    Why raw: polarity is a wiring fact we configure explicitly, so we compare raw levels with the
    configured "closed" level rather than stacking gpiozero's active_state on top.
    """
    return bool(dev.pin.state)


class GpioLockBank:
    """:class:`hardware.ports.LockBank` on GPIO pins."""

    def __init__(
        self,
        name: str,
        specs: Sequence[GpioLockSpec],
        timings: LockTimings | None = None,
        *,
        pin_factory: Factory | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.timings = timings or LockTimings()
        self._clock = clock
        self._sleep = sleep
        # One unlock at a time per bank: two solenoids firing together can brown out the 12 V
        # supply, and confirm-by-sensor is only meaningful for the lock we just pulsed.
        self._busy = threading.Lock()
        self._lockers: dict[int, _Locker] = {}
        try:
            for spec in specs:
                if spec.number in self._lockers:
                    raise ValueError(f"bank {name}: locker {spec.number} defined twice")
                self._lockers[spec.number] = _Locker(spec, pin_factory)
        except Exception:
            self.close()
            raise
        self.all_off()
        self.last_detail: str = ""

    # -- LockBank -----------------------------------------------------------------------------
    def numbers(self) -> list[int]:
        return sorted(self._lockers)

    def door_state(self, number: int) -> DoorState:
        locker = self._locker(number)
        try:
            closed = _raw(locker.door) == locker.spec.door_closed_high
        except Exception as exc:  # any pin error: the honest answer is UNKNOWN
            # debug only: the door monitor reports this once, as a SensorFault event
            log.debug("bank %s locker %s: door sensor read failed: %s", self.name, number, exc)
            return DoorState.UNKNOWN
        return DoorState.CLOSED if closed else DoorState.OPEN

    def door_states(self) -> dict[int, DoorState]:
        return {n: self.door_state(n) for n in self.numbers()}

    def occupied(self, number: int) -> bool | None:
        locker = self._locker(number)
        if locker.occupancy is None:
            return None
        try:
            return _raw(locker.occupancy) == locker.spec.occupied_high
        except Exception as exc:
            log.warning("bank %s locker %s: occupancy read failed: %s", self.name, number, exc)
            return None

    def latch_locked(self, number: int) -> bool | None:
        """Lock feedback switch, None if not fitted or unreadable."""
        locker = self._locker(number)
        if locker.latch is None:
            return None
        try:
            return _raw(locker.latch) == locker.spec.latch_locked_high
        except Exception:
            return None

    def unlock(self, number: int) -> UnlockOutcome:
        locker = self._locker(number)
        t = self.timings
        with self._busy:
            if self.door_state(number) is DoorState.OPEN:
                self.last_detail = "door was already open; no pulse sent"
                return UnlockOutcome.ALREADY_OPEN
            start = self._clock()
            try:
                # gpiozero's blink thread turns the output off after pulse_s by itself.
                locker.lock.blink(on_time=t.pulse_s, off_time=0, n=1, background=True)
            except Exception as exc:
                self.last_detail = f"lock output failed: {exc}"
                log.error("bank %s locker %s: %s", self.name, number, self.last_detail)
                self._safe_off(locker)
                return UnlockOutcome.JAMMED
            latch_released = False
            while True:
                if self.door_state(number) is DoorState.OPEN:
                    self.last_detail = ""
                    return UnlockOutcome.OPENED
                if self.latch_locked(number) is False:
                    latch_released = True
                now = self._clock()
                if now - start >= t.confirm_timeout_s:
                    break
                self._sleep(min(t.poll_s, max(0.0, t.confirm_timeout_s - (now - start))))
            if locker.latch is not None and not latch_released:
                self.last_detail = "lock feedback says the latch never released"
                return UnlockOutcome.JAMMED
            self.last_detail = "door sensor saw no change"
            return UnlockOutcome.DID_NOT_OPEN

    def all_off(self) -> None:
        for locker in self._lockers.values():
            self._safe_off(locker)

    def close(self) -> None:
        self.all_off()
        for locker in self._lockers.values():
            locker.close()
        self._lockers.clear()

    # -- helpers ------------------------------------------------------------------------------
    def lock_device(self, number: int) -> DigitalOutputDevice:
        """The gpiozero output of one lock (for tests and the technician CLI)."""
        return self._locker(number).lock

    def spec(self, number: int) -> GpioLockSpec:
        return self._locker(number).spec

    def _locker(self, number: int) -> _Locker:
        try:
            return self._lockers[number]
        except KeyError:
            raise KeyError(f"bank {self.name} has no locker {number}") from None

    def _safe_off(self, locker: _Locker) -> None:
        try:
            locker.lock.off()
        except Exception as exc:
            log.error(
                "bank %s: could not drive lock %s off: %s", self.name, locker.spec.number, exc
            )
