"""``kiosk hw`` with click's CliRunner, against the simulator."""

from __future__ import annotations

from dataclasses import replace

from click.testing import CliRunner

from hardware.bundle import HardwareSpec
from hardware.gpio_locks import LockTimings
from hardware.rs485 import BusTimings
from kiosk.hardware_config import default_config
from kiosk.hw_commands import hw


def fast_config() -> HardwareSpec:
    return replace(
        default_config(),
        lock_timings=LockTimings(pulse_s=0.02, confirm_timeout_s=0.2, poll_s=0.005),
        bus_timings=BusTimings(reply_timeout_s=0.03, spacing_s=0.001),
    )


def test_hw_list_default_config() -> None:
    result = CliRunner().invoke(hw, ["list"])
    assert result.exit_code == 0, result.output
    assert "desk: RC522" in result.output
    assert "A: GPIO, 8 lockers" in result.output
    assert "B: RS-485" in result.output and "4 lockers" in result.output


def test_hw_test_simulate_passes() -> None:
    result = CliRunner().invoke(hw, ["test", "--simulate"], obj={"hardware_config": fast_config()})
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    assert "reader desk tap" in result.output and "read C0FFEE01" in result.output
    assert result.output.count("lock ") >= 12


def test_hw_test_jammed_lock_fails() -> None:
    result = CliRunner().invoke(
        hw, ["test", "--simulate", "--sim-jam", "B:2"], obj={"hardware_config": fast_config()}
    )
    assert result.exit_code == 1, result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith("lock B2 unlock"))
    assert "FAIL" in line and "jammed" in line


def test_hw_test_jammed_gpio_lock_fails() -> None:
    result = CliRunner().invoke(
        hw, ["test", "--simulate", "--sim-jam", "A:3"], obj={"hardware_config": fast_config()}
    )
    assert result.exit_code == 1
    assert "did_not_open" in result.output


def test_hw_test_reports_poll_cost_and_bus_answer_times() -> None:
    result = CliRunner().invoke(hw, ["test", "--simulate"], obj={"hardware_config": fast_config()})
    assert result.exit_code == 0, result.output
    cost = next(ln for ln in result.output.splitlines() if ln.startswith("reader desk poll cost"))
    transfers = int(cost.split("PASS")[1].split()[0])
    assert transfers <= 40
    board = next(ln for ln in result.output.splitlines() if ln.startswith("bus B board 0"))
    assert "PASS" in board and "answers in" in board


def test_hw_list_simulate_lists_devices() -> None:
    result = CliRunner().invoke(hw, ["list", "--simulate"])
    assert result.exit_code == 0, result.output
    assert "reader desk: MFRC522 v2.0 (0x92)" in result.output
    assert "bank B: lockers 1, 2, 3, 4" in result.output
    assert "desk: RC522" in result.output  # the configured listing still follows


def test_silent_bus_board_reported() -> None:
    from hardware.report import bus_lines
    from kiosk.hardware_config import build_hardware

    bundle = build_hardware(fast_config(), simulate=True)
    try:
        assert bundle.simulator is not None
        bundle.simulator.board_silent(True, bank="B")
        (line,) = bus_lines(bundle.bank("B"))
        assert (line.item, line.ok, line.detail) == ("bus B board 0", False, "not answering")
    finally:
        bundle.close()


def test_bundle_refuses_a_pin_used_twice() -> None:
    import pytest

    from hardware.bundle import GpioBankSpec, HardwareSpec, IndicatorSpec, build_hardware
    from hardware.gpio_locks import GpioLockSpec

    spec = HardwareSpec(
        banks=(GpioBankSpec("A", (GpioLockSpec(1, 5, 17), GpioLockSpec(2, 6, 5))),),
        indicators=IndicatorSpec(green_pin=17),
    )
    with pytest.raises(ValueError) as err:
        build_hardware(spec, simulate=True)
    msg = str(err.value)
    assert "BCM 5 used by A1 lock and A2 door" in msg
    assert "BCM 17 used by A1 door and green LED" in msg
