"""``kiosk demo`` in a real terminal (tmux, 80x24): a confiscation done by keystrokes alone.

Why tmux and not run_test: this is what a newcomer does after reading the README, through
the console script, the real terminal driver, escape sequences for F-keys, the simulator's
reader thread and door sensors. Skipped (with the reason) where tmux is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.demo import DEMO_BADGES

TMUX = shutil.which("tmux")
KIOSK = Path(sys.executable).parent / "kiosk"

pytestmark = pytest.mark.skipif(
    TMUX is None or not KIOSK.exists(),
    reason="needs tmux and the installed `kiosk` console script to drive a real terminal",
)


class Terminal:
    """A detached tmux session running one command at 80x24."""

    def __init__(self, command: str) -> None:
        self.name = f"kiosk-test-{uuid.uuid4().hex[:8]}"
        subprocess.run(
            [TMUX, "new-session", "-d", "-s", self.name, "-x", "80", "-y", "24", command],
            check=True,
        )

    def screen(self) -> str:
        out = subprocess.run(
            [TMUX, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        )
        return out.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        args = [TMUX, "send-keys", "-t", self.name, *(["-l"] if literal else []), *keys]
        subprocess.run(args, check=True)

    def type(self, text: str, *, shown: bool = True) -> None:
        """Type ``text``; unless it is masked (a PIN), wait until the screen shows it, so the
        next key reaches the field it was typed into (no sleeps between keys)."""
        self.keys(text, literal=True)
        if shown:
            self.wait_for(text)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """Poll the screen until it shows ``text`` (``timeout`` is a failure bound)."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            pause.wait(0.05)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")

    def wait_gone(self, text: str, timeout: float = 30.0) -> None:
        """Poll until the screen no longer shows ``text`` (a pop-up closed)."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while time.monotonic() < deadline:
            if text not in self.screen():
                return
            pause.wait(0.05)
        raise AssertionError(f"{text!r} stayed; the screen was:\n{self.screen()}")

    def wait_for_line(self, *parts: str, timeout: float = 30.0) -> str:
        """Poll until one line of the screen shows all ``parts`` (a field's label and the text
        typed into it: the text went to that field and not to another)."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while time.monotonic() < deadline:
            screen = self.screen()
            if any(all(p in line for p in parts) for line in screen.splitlines()):
                return screen
            pause.wait(0.05)
        raise AssertionError(f"no line shows {parts!r}; the screen was:\n{self.screen()}")

    def alive(self) -> bool:
        return (
            subprocess.run([TMUX, "has-session", "-t", self.name], capture_output=True).returncode
            == 0
        )

    def gone(self, timeout: float = 30.0) -> bool:
        """Wait for the session to end (``timeout`` is a failure bound)."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while self.alive() and time.monotonic() < deadline:
            pause.wait(0.05)
        return not self.alive()

    def kill(self) -> None:
        subprocess.run([TMUX, "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Terminal, Path]]:
    folder = tmp_path / "demo"
    term = Terminal(f"TERM=xterm-256color {KIOSK} demo --dir {folder}")
    yield term, folder
    term.kill()


@pytest.mark.slow
def test_kiosk_demo_confiscation_by_keystrokes(demo: tuple[Terminal, Path]) -> None:
    term, folder = demo
    term.wait_for("tap your badge", timeout=30)
    # Sign in: simulator panel (F2) taps the office badge, then the PIN.
    term.keys("F2")
    term.wait_for("Simulator: tap a card")
    term.type("AB000001")
    term.keys("Enter")
    term.wait_for("Type your PIN")
    term.type("3917", shown=False)  # masked; the pty delivers the Enter after it
    term.keys("Enter")
    term.wait_for("Confiscate a phone")
    # Ben's card on the reader starts the confiscation with Ben chosen.
    term.keys("F2")
    term.wait_for("Simulator: tap a card")
    term.type("ben hughes")
    term.keys("Enter")
    term.wait_for("What happened?")
    term.keys("Enter")  # Unauthorised phone use
    term.wait_for("Describe the device")
    term.type("blue phone in a black case")
    term.keys("Enter")
    screen = term.wait_for("Switched off - put it in")
    locker = screen.split("Switched off - put it in", 1)[1].split()[0]
    term.keys("Enter")
    term.wait_for("CLOSE THE DOOR")
    # The simulator's door panel lists open doors first: Enter closes it.
    term.keys("F3")
    term.wait_for(f"{locker:<4} open")  # the door's row (panel: f"{bank}{n:<3} {state}")
    term.keys("Enter")
    term.wait_for(f"Closed {locker}")
    term.keys("Escape")
    screen = term.wait_for("Phone confiscation receipt")
    assert f"Kept in: {locker}" in screen
    assert "Sarah Hughes" in screen
    term.keys("Enter")
    term.wait_for("Confiscate a phone")
    term.keys("C-q")
    assert term.gone(), "kiosk demo did not quit on ctrl+q"
    badge, pin = DEMO_BADGES["office"]
    out = subprocess.run(
        [str(KIOSK), "--config", str(folder / "kiosk.toml"), "holdings", "--badge", badge],
        capture_output=True,
        text=True,
        check=True,
        input=f"{pin}\n",
    ).stdout
    assert any(
        "Ben Hughes" in line and locker in line and "held" in line for line in out.splitlines()
    ), out
