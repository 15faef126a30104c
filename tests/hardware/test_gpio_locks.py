"""GPIO lock bank: real gpiozero devices on MockFactory pins."""

from __future__ import annotations

from gpiozero.pins.mock import MockFactory
from hw_helpers import FAST, wait_for

from hardware.gpio_locks import GpioLockBank, GpioLockSpec
from hardware.ports import DoorState, UnlockOutcome


class FakeClock:
    """The bank's monotonic clock, moved only by the bank's own sleeps (no wall time)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def make_bank(
    factory: MockFactory, clock: FakeClock | None = None, sleep=None, **kw: object
) -> GpioLockBank:
    specs = [
        GpioLockSpec(1, lock_pin=5, door_pin=17, **kw),  # type: ignore[arg-type]
        GpioLockSpec(2, lock_pin=6, door_pin=27, lock_active_high=False),
        GpioLockSpec(3, lock_pin=12, door_pin=22, latch_pin=23),
    ]
    timing = {"clock": clock, "sleep": sleep} if clock is not None else {}
    bank = GpioLockBank("A", specs, FAST, pin_factory=factory, **timing)  # type: ignore[arg-type]
    for pin in (17, 27, 22, 23):  # doors shut, latch locked (reed/feedback to GND -> low)
        factory.pin(pin).drive_low()
    return bank


def test_all_outputs_off_at_startup_including_active_low(mock_factory: MockFactory) -> None:
    bank = make_bank(mock_factory)
    assert mock_factory.pin(5).state is False  # active-high relay: off = low
    assert mock_factory.pin(6).state is True  # active-low relay board: off = HIGH
    assert all(not bank.lock_device(n).value for n in bank.numbers())
    bank.close()


def test_unlock_opened_and_pulse_not_held_on(mock_factory: MockFactory) -> None:
    bank = make_bank(mock_factory)
    lock_pin, door_pin = mock_factory.pin(5), mock_factory.pin(17)
    lock_pin.on_output = lambda v: door_pin.drive_high() if v else None  # spring pops the door
    assert bank.unlock(1) is UnlockOutcome.OPENED
    # Nobody turns it off: gpiozero's blink thread must (the wait is a failure bound only).
    assert wait_for(lambda: lock_pin.state is False), "lock output must turn itself off"
    on_periods = [s for s in lock_pin.states if s.state is True]
    assert len(on_periods) == 1
    # time in the "on" state is the timestamp delta of the following "off" entry: at least
    # the pulse (no upper bound: the blink thread runs on wall time, which a loaded machine
    # stretches; "not held on" is the output going off by itself, above)
    highs = [i for i, s in enumerate(lock_pin.states) if s.state is True]
    held = lock_pin.states[highs[0] + 1].timestamp
    assert held >= FAST.pulse_s * 0.8
    bank.close()


def test_already_open_sends_no_pulse(mock_factory: MockFactory) -> None:
    bank = make_bank(mock_factory)
    mock_factory.pin(17).drive_high()
    mock_factory.pin(5).clear_states()
    assert bank.unlock(1) is UnlockOutcome.ALREADY_OPEN
    assert [s.state for s in mock_factory.pin(5).states] == [False]
    bank.close()


def test_did_not_open_when_door_never_moves(mock_factory: MockFactory) -> None:
    clock = FakeClock()
    bank = make_bank(mock_factory, clock=clock, sleep=clock.sleep)
    assert bank.unlock(1) is UnlockOutcome.DID_NOT_OPEN
    # It gave up once the confirm timeout had passed on its clock, not before, not much after.
    assert FAST.confirm_timeout_s <= clock.now < FAST.confirm_timeout_s + FAST.poll_s
    assert wait_for(lambda: mock_factory.pin(5).state is False)
    bank.close()


def test_jammed_when_latch_feedback_never_releases(mock_factory: MockFactory) -> None:
    bank = make_bank(mock_factory)
    assert bank.unlock(3) is UnlockOutcome.JAMMED
    assert "latch" in bank.last_detail
    bank.close()


def test_latch_released_but_door_stuck_is_did_not_open(mock_factory: MockFactory) -> None:
    bank = make_bank(mock_factory)
    latch = mock_factory.pin(23)
    mock_factory.pin(12).on_output = lambda v: latch.drive_high() if v else latch.drive_low()
    assert bank.unlock(3) is UnlockOutcome.DID_NOT_OPEN
    bank.close()


def test_unreadable_sensor_is_unknown_never_a_guess(mock_factory: MockFactory) -> None:
    bank = make_bank(mock_factory)
    assert bank.door_state(1) is DoorState.CLOSED
    mock_factory.pin(17).failed = True
    assert bank.door_state(1) is DoorState.UNKNOWN
    assert bank.unlock(1) is UnlockOutcome.DID_NOT_OPEN
    bank.close()


def test_door_polarity_high_means_closed(mock_factory: MockFactory) -> None:
    bank = GpioLockBank(
        "P",
        [GpioLockSpec(1, 5, 17, door_pull_up=False, door_closed_high=True)],
        FAST,
        pin_factory=mock_factory,
    )
    assert bank.door_state(1) is DoorState.OPEN  # pulled down = reed open = door open
    mock_factory.pin(17).drive_high()
    assert bank.door_state(1) is DoorState.CLOSED
    bank.close()
