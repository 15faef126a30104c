"""``kiosk demo`` in tmux (80x24): the exams officer creates an exam session by keystrokes,
two candidates deposit in self-service, and the pouches are handed back (issue 14, "Show").

The demo has one exam cabinet (B4), holding the morning's pouches: the officer first ends
that session and hands its pouches back, as on a real exam day, then creates the next one.
Everything goes through the console script, the terminal driver and the simulator's reader
and door threads; the ledger is read afterwards with ``kiosk holdings``.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_terminal import KIOSK, TMUX, Terminal

from kiosk.demo import DEMO_BADGES

pytestmark = pytest.mark.skipif(
    TMUX is None or not KIOSK.exists(),
    reason="needs tmux and the installed `kiosk` console script to drive a real terminal",
)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Terminal, Path]]:
    folder = tmp_path / "demo"
    term = Terminal(f"TERM=xterm-256color {KIOSK} demo --dir {folder}")
    yield term, folder
    term.kill()


def tap(term: Terminal, card: str) -> None:
    """F2: the simulator's card picker; the filter text, Enter taps the card."""
    term.keys("F2")
    term.wait_for("Simulator: tap a card")
    term.type(card)
    term.keys("Enter")


def close_cabinet(term: Terminal) -> None:
    """F3: the door panel lists open doors first; Enter closes B4."""
    term.keys("F3")
    term.wait_for("Simulator doors")
    term.wait_for("B4   open")
    term.keys("Enter")
    term.wait_for("Closed B4")
    term.keys("Escape")


def test_exam_day_by_keystrokes(demo: tuple[Terminal, Path]) -> None:
    term, folder = demo
    term.wait_for("tap your badge", timeout=30)
    tap(term, "AB000004")  # the exams officer
    term.wait_for("Type your PIN")
    term.type("5082")
    term.keys("Enter")
    term.wait_for("Exam deposits")
    term.keys("e")
    term.wait_for("3 of 6 deposited")
    # The morning's session ends and its pouches go back: the cabinet is free.
    term.keys("n")
    term.wait_for("release all")
    term.keys("b")
    term.wait_for("Opening the cabinet")
    close_cabinet(term)
    term.wait_for("(released)")

    # A new session: paper, date (today, prefilled), start, end, room, cabinet, candidates.
    term.keys("c")
    term.wait_for("New exam session")
    term.type("GCSE Maths Paper 1")
    term.keys("Enter")
    term.keys("Enter")
    term.type("09:00")
    term.keys("Enter")
    term.type("10:30")
    term.keys("Enter")
    term.type("Hall")
    term.keys("Enter")
    term.keys("Enter")
    tap(term, "ben hughes")
    term.wait_for("Candidates: 1")
    tap(term, "amara")
    term.wait_for("Candidates: 2")
    term.keys("C-s")
    screen = term.wait_for("0 of 2 deposited")
    assert "GCSE Maths Paper 1 | Hall | B4 (open)" in screen

    # Self-service: each candidate taps their card and closes the cabinet.
    term.keys("d")
    term.wait_for("CANDIDATES: tap your card")
    for name, pouch in (("ben hughes", 1), ("amara", 2)):
        tap(term, name)
        term.wait_for(f"POUCH {pouch}")
        close_cabinet(term)
        term.wait_for("Next candidate")
    # The officer's badge leaves self-service and comes back to the exam screen.
    tap(term, "AB000004")
    term.wait_for("Type your PIN")
    term.type("5082")
    term.keys("Enter")
    term.wait_for("2 of 2 deposited")

    term.keys("n")
    term.wait_for("release all")
    term.keys("b")
    term.wait_for("Opening the cabinet")
    close_cabinet(term)
    term.wait_for("(released)")
    term.keys("C-q")

    deadline = time.monotonic() + 15
    while term.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    badge, pin = DEMO_BADGES["exams"]  # `kiosk holdings` needs a sign-in (issue 9)
    out = subprocess.run(
        [
            str(KIOSK),
            "--config",
            str(folder / "kiosk.toml"),
            "holdings",
            "--all",
            "--json",
            "--badge",
            badge,
        ],
        input=f"{pin}\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    deposits = [h for h in json.loads(out) if h["kind"] == "exam_deposit"]
    ours = {h["pupil_name"]: (h["pouch_number"], h["state"]) for h in deposits[:2]}
    assert ours == {"Amara Okafor": (2, "released"), "Ben Hughes": (1, "released")}, out
    assert {h["state"] for h in deposits} == {"released"}, out
