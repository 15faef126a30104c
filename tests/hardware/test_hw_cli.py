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
