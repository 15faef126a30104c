"""Off a Pi, asking for the real hardware fails with what to do, not a gpiozero traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from hardware.bundle import HardwareUnavailable
from kiosk.hardware_config import build_hardware, default_config

ON_A_PI = Path("/proc/device-tree/model").exists() and "Raspberry" in Path(
    "/proc/device-tree/model"
).read_text(errors="ignore")


@pytest.mark.skipif(ON_A_PI, reason="this is a Raspberry Pi: the real GPIO is there")
def test_real_build_off_a_pi_says_use_simulate(monkeypatch):
    import gpiozero

    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    # Other tests leave a MockFactory as gpiozero's process-wide default; start from none.
    monkeypatch.setattr(gpiozero.Device, "pin_factory", None)
    with pytest.raises(HardwareUnavailable, match="--simulate"):
        build_hardware(default_config(), simulate=False)
