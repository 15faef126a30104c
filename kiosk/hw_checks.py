"""The hardware checks a technician runs, shared by the technician screen and ``kiosk hw test``.

Why one module: a reader that the screen calls healthy must not fail the command-line test
(or the reverse), and a test pulse must be sent the same way from both, through the
monitor-guarded lock bank so that a commanded pulse is never reported as a forced door.
No pupil data is read here (DESIGN.md, Data protection: technicians see no pupil data).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hardware.ports import BadgeReader, DoorState, LockBank, UnlockOutcome


@dataclass(frozen=True)
class Check:
    """One line of a hardware test: what was checked, whether it passed, and what was seen."""

    item: str
    ok: bool
    detail: str
    #: Not tried on purpose (a locker holding a phone or out of service): not a failure.
    skipped: bool = False

    @property
    def result(self) -> str:
        return "SKIP" if self.skipped else "PASS" if self.ok else "FAIL"


@dataclass(frozen=True)
class SensorReading:
    """What one locker's sensors say now (``occupied`` None: no occupancy sensor)."""

    bank: str
    number: int
    door: DoorState
    occupied: bool | None


def reader_checks(readers: Iterable[BadgeReader]) -> list[Check]:
    """Firmware version / health of every badge reader, as the reader reports it."""
    checks = []
    for reader in readers:
        try:
            version = reader.version()
        except Exception as exc:
            checks.append(Check(f"reader {reader.name} version", False, f"unreadable ({exc})"))
            continue
        checks.append(
            Check(f"reader {reader.name} version", not version.startswith("unreadable"), version)
        )
    return checks


def sensor_readings(banks: Mapping[str, LockBank]) -> list[SensorReading]:
    """Every door sensor and occupancy sensor, bank by bank."""
    readings = []
    for name, bank in banks.items():
        for number in bank.numbers():
            readings.append(
                SensorReading(name, number, bank.door_state(number), bank.occupied(number))
            )
    return readings


def test_pulse(bank: LockBank, number: int) -> tuple[UnlockOutcome, str]:
    """Pulse one (empty) locker; the outcome comes from the latch/door, with any detail."""
    outcome = bank.unlock(number)
    extra = str(getattr(bank, "last_detail", "") or "")
    return outcome, f"{outcome.value} {extra}".strip()
