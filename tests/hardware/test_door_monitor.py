"""Door monitor with an injected clock: forced open, left open, sensor fault."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory
from hw_helpers import FAST

from hardware.door_monitor import DoorMonitor
from hardware.gpio_locks import GpioLockBank, GpioLockSpec
from hardware.ports import DoorClosed, DoorOpened, ForcedOpen, LeftOpen, SensorFault

_banks: list[GpioLockBank] = []


@pytest.fixture(autouse=True)
def _close_banks() -> Iterator[None]:
    yield
    while _banks:
        _banks.pop().close()


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def rig(factory: MockFactory) -> tuple[GpioLockBank, DoorMonitor, list[object], Clock]:
    bank = GpioLockBank(
        "A", [GpioLockSpec(1, 5, 17), GpioLockSpec(2, 6, 27)], FAST, pin_factory=factory
    )
    _banks.append(bank)
    factory.pin(17).drive_low()
    factory.pin(27).drive_low()
    clock = Clock()
    events: list[object] = []
    monitor = DoorMonitor(
        [bank], events.append, left_open_limit_s=30, unlock_grace_s=2, clock=clock
    )
    monitor.poll()  # baseline
    return bank, monitor, events, clock


def kinds(events: list[object]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_forced_open(mock_factory: MockFactory) -> None:
    _, monitor, events, _ = rig(mock_factory)
    assert events == []
    mock_factory.pin(17).drive_high()
    monitor.poll()
    assert kinds(events) == ["DoorOpened", "ForcedOpen"]
    assert isinstance(events[1], ForcedOpen) and events[1].number == 1


def test_commanded_open_is_not_forced_and_closes(mock_factory: MockFactory) -> None:
    bank, monitor, events, clock = rig(mock_factory)
    mock_factory.pin(5).on_output = lambda v: mock_factory.pin(17).drive_high() if v else None
    guarded = monitor.guard(bank)
    assert guarded.unlock(1).value == "opened"
    clock.t += 1  # within grace
    monitor.poll()
    assert kinds(events) == ["DoorOpened"]
    mock_factory.pin(17).drive_low()
    monitor.poll()
    assert isinstance(events[-1], DoorClosed)


def test_open_after_grace_expired_is_forced(mock_factory: MockFactory) -> None:
    bank, monitor, events, clock = rig(mock_factory)
    monitor.guard(bank).unlock(2)  # jammed in effect: door does not move
    clock.t += 5
    mock_factory.pin(27).drive_high()
    monitor.poll()
    assert kinds(events) == ["DoorOpened", "ForcedOpen"]


def test_left_open_once_per_opening(mock_factory: MockFactory) -> None:
    _, monitor, events, clock = rig(mock_factory)
    mock_factory.pin(17).drive_high()
    monitor.poll()
    clock.t += 29.9
    monitor.poll()
    assert not any(isinstance(e, LeftOpen) for e in events)
    clock.t += 0.2
    monitor.poll()
    clock.t += 100
    monitor.poll()
    left = [e for e in events if isinstance(e, LeftOpen)]
    assert len(left) == 1 and left[0].seconds >= 30


def test_sensor_fault_once_then_recovers_without_guessing(mock_factory: MockFactory) -> None:
    _, monitor, events, _ = rig(mock_factory)
    mock_factory.pin(17).failed = True
    monitor.poll()
    monitor.poll()
    assert kinds(events) == ["SensorFault"]
    assert isinstance(events[0], SensorFault)
    mock_factory.pin(17).failed = False
    mock_factory.pin(17).drive_high()
    monitor.poll()
    # after a fault the next reading is a new baseline: no DoorOpened/ForcedOpen invented
    assert kinds(events) == ["SensorFault"]
    mock_factory.pin(17).drive_low()
    monitor.poll()
    assert isinstance(events[-1], DoorClosed)
    assert not any(isinstance(e, DoorOpened) for e in events)
