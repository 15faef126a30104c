"""Pi 5: make sure only ``rpi-lgpio`` provides ``RPi.GPIO``, and say which package does.

Why: mfrc522 imports ``RPi.GPIO``. The original RPi.GPIO package drives the BCM283x GPIO block
through /dev/mem and fails on a Pi 5, whose GPIO sits on the RP1 chip; ``rpi-lgpio`` provides the
same ``RPi.GPIO`` module on top of lgpio. Both install into the same ``RPi/GPIO`` folder, so if
both are present the last one installed wins, and uninstalling RPi.GPIO deletes files rpi-lgpio
also owns: after removing it we reinstall rpi-lgpio.

Run by ``systemd/check-gpio.sh`` (the installer) with the kiosk venv's python:
``python -m hardware.gpio_check``. Exit status 0 when the venv is right (or not a Pi 5), 1 when
it could not be put right (the message says what to do).
"""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

MODEL_FILE = Path("/proc/device-tree/model")
LGPIO_DIST = "rpi-lgpio"
OLD_DIST = "RPi.GPIO"


def board_model(path: Path = MODEL_FILE) -> str:
    try:
        return path.read_bytes().rstrip(b"\0").decode(errors="replace").strip()
    except OSError:
        return "unknown (no /proc/device-tree/model: not a Raspberry Pi?)"


def providers() -> list[str]:
    """Distributions that install the top-level ``RPi`` package, as this python sees them."""
    return sorted(set(md.packages_distributions().get("RPi", [])))


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def check(
    model: str,
    found: Callable[[], list[str]] = providers,
    run: Callable[[Sequence[str]], int] = lambda cmd: subprocess.call(list(cmd)),
    say: Callable[[str], None] = print,
) -> int:
    """Fix the venv on a Pi 5 and report. ``found``/``run`` are injectable for tests."""
    before = found()
    say(f"board: {model}")
    say(f"RPi.GPIO provided by: {', '.join(before) or 'nothing'}")
    if "Raspberry Pi 5" not in model:
        say("not a Pi 5: nothing to change")
        return 0
    names = {_norm(n) for n in before}
    pip = [sys.executable, "-m", "pip", "-q"]
    if _norm(OLD_DIST) in names:
        say(f"Pi 5: removing {OLD_DIST} (it cannot drive the RP1 GPIO)")
        run([*pip, "uninstall", "-y", OLD_DIST])
    if _norm(OLD_DIST) in names or _norm(LGPIO_DIST) not in names:
        # also restores the RPi/GPIO files the uninstall took from under rpi-lgpio
        run([*pip, "install", "--force-reinstall", "--no-deps", LGPIO_DIST])
    after = {_norm(n) for n in found()}
    if after == {_norm(LGPIO_DIST)}:
        say(f"RPi.GPIO now provided by: {LGPIO_DIST} only")
        return 0
    say(
        f"RPi.GPIO still provided by: {', '.join(sorted(after)) or 'nothing'}. If RPi.GPIO "
        "comes from apt (python3-rpi.gpio), run `sudo apt remove python3-rpi.gpio` and "
        "re-run the installer."
    )
    return 1


def main() -> int:
    return check(board_model())


if __name__ == "__main__":
    raise SystemExit(main())
