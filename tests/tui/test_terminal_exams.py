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
    # Gone before the next key: a key bound on the screen below is looked up against the
    # screen on top when it is handled, so a key sent under the panel would be lost.
    term.wait_gone("Simulator doors")


def fill(term: Terminal, label: str, text: str) -> None:
    """Type ``text`` at once (as a fast typist or a keyboard-wedge reader does) and wait until
    the line of the field ``label`` shows it: the keys went to that field."""
    term.keys(text, literal=True)
    term.wait_for_line(label, text)


@pytest.mark.slow
def test_exam_day_by_keystrokes(demo: tuple[Terminal, Path]) -> None:
    term, folder = demo
    term.wait_for("tap your badge", timeout=30)
    tap(term, "AB000004")  # the exams officer
    term.wait_for("Type your PIN")
    term.type("5082", shown=False)
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
    # Enter and the next field's text go together, with no wait between them: the form
    # moves the focus while the Enter is routed (tui/screens/exam_admin.py), so each text
    # must show on its own field's line.
    term.keys("c")
    term.wait_for("New exam session")
    fill(term, "Paper", "GCSE Maths Paper 1")
    term.keys("Enter", "Enter")  # the date as prefilled
    fill(term, "Start", "09:00")
    term.keys("Enter")
    fill(term, "End", "10:30")
    term.keys("Enter")
    fill(term, "Room", "Hall")
    term.keys("Enter", "Enter")  # the only exam cabinet; on to the candidates
    tap(term, "ben hughes")
    term.wait_for("Candidates: 1")
    tap(term, "amara")
    term.wait_for("Candidates: 2")
    term.keys("C-s")
    screen = term.wait_for("0 of 2 deposited")
    assert "GCSE Maths Paper 1 | Hall | B4 (open)" in screen
    assert "09:00-10:30 GCSE Maths Paper 1" in screen

    # Self-service: each candidate taps their card and closes the cabinet.
    term.keys("d")
    # Once for the session, the officer confirms the phones go in switched off (the demo
    # profile has phones.switched_off_not_silent): one key, not one per candidate.
    term.wait_for("phones are switched off - start self-service")
    term.keys("Enter")
    term.wait_for("CANDIDATES: tap your card")
    for name, pouch in (("ben hughes", 1), ("amara", 2)):
        tap(term, name)
        term.wait_for(f"POUCH {pouch}")
        close_cabinet(term)
        term.wait_for(f"pouch {pouch} is locked in B4")
    # The officer's badge leaves self-service and comes back to the exam screen.
    tap(term, "AB000004")
    term.wait_for("Type your PIN")
    term.type("5082", shown=False)
    term.keys("Enter")
    term.wait_for("2 of 2 deposited")

    term.keys("n")
    term.wait_for("release all")
    term.keys("b")
    # Handled before F3 opens the door panel (the toasts of the morning's hand-back were
    # cleared when self-service began, so this one is new).
    term.wait_for("Opening the cabinet")
    close_cabinet(term)
    term.wait_for("(released)")
    term.keys("C-q")

    assert term.gone(), "kiosk demo did not quit on ctrl+q"
    badge, pin = DEMO_BADGES["exams"]  # the CLI shows pupils only to a signed-in member of staff
    out = subprocess.run(
        [KIOSK, "--config", folder / "kiosk.toml", "holdings", "--all", "--json", "--badge", badge],
        capture_output=True,
        text=True,
        check=True,
        input=f"{pin}\n",
    ).stdout
    deposits = [h for h in json.loads(out) if h["kind"] == "exam_deposit"]
    ours = {h["pupil_name"]: (h["pouch_number"], h["state"]) for h in deposits[:2]}
    assert ours == {"Amara Okafor": (2, "released"), "Ben Hughes": (1, "released")}, out
    assert {h["state"] for h in deposits} == {"released"}, out
