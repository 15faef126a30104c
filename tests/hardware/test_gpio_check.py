"""The Pi 5 RPi.GPIO check, with the package list and pip injected."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hardware.gpio_check import board_model, check


class Venv:
    def __init__(self, *dists: str) -> None:
        self.dists = set(dists)
        self.commands: list[list[str]] = []
        self.lines: list[str] = []

    def found(self) -> list[str]:
        return sorted(self.dists)

    def run(self, cmd: Sequence[str]) -> int:
        self.commands.append(list(cmd))
        if "uninstall" in cmd:
            self.dists.discard("RPi.GPIO")
        elif "install" in cmd:
            self.dists.add("rpi-lgpio")
        return 0


PI5 = "Raspberry Pi 5 Model B Rev 1.0"


def test_pi5_with_both_removes_rpi_gpio_and_restores_lgpio() -> None:
    venv = Venv("RPi.GPIO", "rpi-lgpio")
    assert check(PI5, venv.found, venv.run, venv.lines.append) == 0
    assert [c[c.index("-q") + 1] for c in venv.commands] == ["uninstall", "install"]
    assert venv.commands[1][-1] == "rpi-lgpio" and "--force-reinstall" in venv.commands[1]
    assert "RPi.GPIO provided by: RPi.GPIO, rpi-lgpio" in venv.lines
    assert venv.lines[-1] == "RPi.GPIO now provided by: rpi-lgpio only"


def test_pi5_already_right_changes_nothing() -> None:
    venv = Venv("rpi-lgpio")
    assert check(PI5, venv.found, venv.run, venv.lines.append) == 0
    assert venv.commands == []


def test_pi4_is_left_alone() -> None:
    venv = Venv("RPi.GPIO")
    assert check("Raspberry Pi 4 Model B Rev 1.5", venv.found, venv.run, venv.lines.append) == 0
    assert venv.commands == []
    assert "RPi.GPIO provided by: RPi.GPIO" in venv.lines


def test_pi5_unfixable_says_what_to_do() -> None:
    venv = Venv("RPi.GPIO", "rpi-lgpio")
    venv.run = lambda cmd: 1  # type: ignore[method-assign]  # pip cannot touch apt's copy
    assert check(PI5, venv.found, venv.run, venv.lines.append) == 1
    assert "apt remove python3-rpi.gpio" in venv.lines[-1]


def test_board_model_reads_device_tree(tmp_path: Path) -> None:
    f = tmp_path / "model"
    f.write_bytes(PI5.encode() + b"\0")
    assert board_model(f) == PI5
    assert board_model(tmp_path / "missing").startswith("unknown")
