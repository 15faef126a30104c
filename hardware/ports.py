"""Ports: what the kiosk may ask of the hardware, and what the hardware may tell it.

Everything here is plain data or a ``typing.Protocol`` so that the kiosk (and its tests) depend on
*behaviour*, never on gpiozero, pyserial or mfrc522. Adapters live in sibling modules.

The vocabulary follows "Physical truth vs. database truth" in DESIGN.md: a pulse sent is not a
door opened, so :meth:`LockBank.unlock` returns an :class:`UnlockOutcome` confirmed by the door
sensor, and a sensor that cannot be read is :attr:`DoorState.UNKNOWN`, never a guess.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "BadgeReader",
    "BadgeTapped",
    "Camera",
    "DoorClosed",
    "DoorOpened",
    "DoorState",
    "EventSink",
    "ForcedOpen",
    "HardwareEvent",
    "Indicators",
    "LeftOpen",
    "LockBank",
    "ReaderFault",
    "ReaderRecovered",
    "SensorFault",
    "UnlockOutcome",
]


class UnlockOutcome(enum.Enum):
    """What actually happened after an unlock pulse, as confirmed by the door sensor."""

    OPENED = "opened"
    """The door was closed, we pulsed, and the sensor saw it open within the confirm time."""
    ALREADY_OPEN = "already_open"
    """The door was open before we pulsed (no pulse is sent: nothing to release)."""
    DID_NOT_OPEN = "did_not_open"
    """We pulsed (or tried to) and the sensor saw no change, or could not be read."""
    JAMMED = "jammed"
    """The board or the lock's own feedback reported a fault: the latch did not release."""


class DoorState(enum.Enum):
    """A door as the sensor reports it. A failed read is UNKNOWN, never a guess."""

    OPEN = "open"
    CLOSED = "closed"
    UNKNOWN = "unknown"


def _now() -> float:
    return time.monotonic()


@dataclass(frozen=True)
class BadgeTapped:
    """A badge was presented. ``uid`` is upper-case hex without separators."""

    uid: str
    reader: str
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class ReaderFault:
    """A reader stopped answering (deaf RC522, unplugged USB reader, SPI errors)."""

    reader: str
    detail: str
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class ReaderRecovered:
    """A reader that raised :class:`ReaderFault` answers again."""

    reader: str
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class DoorOpened:
    """The door sensor saw the door open (commanded or not; see :class:`ForcedOpen`)."""

    bank: str
    number: int
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class DoorClosed:
    """The door sensor saw the door close."""

    bank: str
    number: int
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class ForcedOpen:
    """The door opened with no unlock command in flight: an alarm for the central log."""

    bank: str
    number: int
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class LeftOpen:
    """The door has been open longer than the configured limit: an alarm."""

    bank: str
    number: int
    seconds: float
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class SensorFault:
    """A door sensor (or the board that carries it) could not be read: state is UNKNOWN."""

    bank: str
    number: int
    detail: str
    at: float = field(default_factory=_now)


HardwareEvent = (
    BadgeTapped
    | ReaderFault
    | ReaderRecovered
    | DoorOpened
    | DoorClosed
    | ForcedOpen
    | LeftOpen
    | SensorFault
)

EventSink = Callable[[object], None]
"""Callback that receives events. Called from hardware threads: hand off, do not block."""


@runtime_checkable
class BadgeReader(Protocol):
    """A badge reader that pushes :class:`BadgeTapped` / fault events from its own thread."""

    name: str

    def start(self, on_event: EventSink) -> None:
        """Begin polling; events go to ``on_event`` from a daemon thread."""

    def stop(self) -> None:
        """Stop polling and release the device. Safe to call twice."""

    def version(self) -> str:
        """A human-readable firmware/chip version, or a string starting ``"unreadable"``."""


@runtime_checkable
class LockBank(Protocol):
    """A set of numbered lockers, each with a lock, a door sensor and maybe an occupancy sensor."""

    name: str

    def numbers(self) -> list[int]:
        """Locker numbers in this bank (1-based, as printed on the doors)."""

    def unlock(self, number: int) -> UnlockOutcome:
        """Pulse the lock (never hold it on) and confirm with the door sensor. Never raises
        for hardware trouble: the outcome says what happened."""

    def door_state(self, number: int) -> DoorState:
        """Current door state; UNKNOWN if the sensor or its board cannot be read."""

    def door_states(self) -> dict[int, DoorState]:
        """Every door at once (one bus query per board for RS-485)."""

    def occupied(self, number: int) -> bool | None:
        """Occupancy sensor reading, or None if none is fitted or it cannot be read."""

    def all_off(self) -> None:
        """Drive every lock output off (fail-secure). Called at start-up and shutdown."""

    def close(self) -> None:
        """Turn everything off and release pins / ports."""


@runtime_checkable
class Camera(Protocol):
    """The optional tray camera. Frames the tray only; photos never leave the Pi."""

    def capture_still(self, path: Path) -> Path | None:
        """Capture one still to ``path``; None when no camera is fitted."""

    def describe(self) -> str:
        """What is fitted, for the technician screen (no image is taken)."""


@runtime_checkable
class Indicators(Protocol):
    """LEDs and buzzer that tell the person at the kiosk what just happened."""

    def ok(self) -> None:
        """Short positive feedback (e.g. badge accepted)."""

    def error(self) -> None:
        """Short negative feedback (e.g. badge refused, door did not open)."""

    def alarm(self, on: bool) -> None:
        """Start or stop the continuous alarm pattern (forced open, left open)."""
