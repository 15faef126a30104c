"""The crash harness (issue 16): a real station process SIGKILLed and restarted.

A small run of ``bench/crash_harness.py`` (20 cycles: every named crash point and random
kills, seeded), and the half-done state the issue found: a locker whose door did not open
must keep its fault mark whatever moment the process is killed, or it is handed out again.
No sleeps: the harness waits on the station's own output lines, bounded by a deadline.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_harness", BENCH / "crash_harness.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


harness = _harness()


@pytest.fixture(scope="module")
def seeded_school(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The harness's school, seeded once per module (a second of CPU); tests copy it."""
    school = tmp_path_factory.mktemp("crash-template") / "school"
    harness.seed_school(school)
    return school


@pytest.mark.slow
def test_twenty_kills_lose_nothing_and_leave_nothing_unflagged() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "crash_harness.py"),
            "--cycles",
            "20",
            "--seed",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["problems"] == [], figures["problems"]
    assert done.returncode == 0, done.stderr[-2000:]
    assert figures["cycles"] == 20
    # The run did work and crashed in it, or it proves nothing.
    assert figures["acknowledged"] >= 20
    assert figures["half_done"] >= 1
    points = {k.split(" ")[0] for k in figures["killed_at"]}
    # Points every scripted action passes before it is acknowledged. The tray photo's
    # ``written``/``recorded`` points are passed by a thread after the door closes, so whether
    # a 20-cycle run lands a kill there depends on timing (one CI run in several missed it):
    # they are proven deterministically by tests/kiosk/test_retention.py's photo crash test.
    assert {"commit.before", "commit.after", "door.pulsed", "random"} <= points
    for key in (
        "lost",
        "integrity_failures",
        "chain_failures",
        "half_done_unflagged",
        "locks_driven_at_startup",
    ):
        assert figures[key] == 0, (key, figures)
    # A tray photo written and never recorded is fixed by kiosk/photos.py (on main: written
    # under a temporary name the purge deletes); on a branch without it the harness counts
    # such photos (bench/crash_harness.py reports them) and this is not yet asserted.
    if importlib.util.find_spec("kiosk.photos") is not None:
        assert figures["photos_unrecorded"] == 0, figures


# Depths 3-5: the tray photo is recorded, the deposit aborted, the locker marked (before the
# fix the last two were separate commits; a kill at depth 4 lost the mark).
@pytest.mark.slow
@pytest.mark.parametrize("depth", range(3, 6))
def test_a_jammed_locker_keeps_its_fault_mark_through_a_kill(
    tmp_path: Path, seeded_school: Path, depth: int
) -> None:
    """Kill after the depth-th commit of a confiscation into a jammed locker; on restart a
    deposit aborted because the door did not open always has its locker marked as a fault."""
    school = tmp_path / "school"
    shutil.copytree(seeded_school, school)
    ledger = harness.Ledger(school)
    station = harness.Station(school / "kiosk.toml", 0, f"commit.after#{depth}")
    try:
        assert station.answer(("ready",)) is not None
        assert station.send("confiscate 10 1")  # pupil 10, locker jammed
        station.answer(("ack", "refused"))  # or None: it killed itself on the way
    finally:
        station.kill()
    jammed, unmarked = ledger.jammed_unmarked()
    assert unmarked == set(), f"aborted deposits {unmarked} left their jammed locker free"
    restarted = harness.Station(school / "kiosk.toml", 1, None)
    try:
        ready = restarted.answer(("ready",))
        assert ready is not None
        lockers = ledger._rows("SELECT bank || number, state FROM lockers WHERE state='fault'")
        if jammed:
            assert lockers, "the jammed locker is not a fault after the restart"
    finally:
        assert restarted.stop() == 0


def test_the_restart_checks_catch_what_they_claim(tmp_path: Path, seeded_school: Path) -> None:
    """The harness's checks fail when they should: a half-way holding nobody flagged, a pulse
    before the first intent, an acknowledged action missing, an event deleted."""
    school = tmp_path / "school"
    shutil.copytree(seeded_school, school)
    h = harness.Harness(school, seed=1)
    h.check_restart("ready pulses=0 reconcile=")
    h.check_pulses("first pulses=0")
    assert (h.tally.half_done, h.tally.integrity_failures, h.tally.chain_failures) == (0, 0, 0)

    con = sqlite3.connect(school / "kiosk.db")
    with con:
        con.execute("UPDATE holdings SET state='depositing' WHERE id=2")
    h.promised.append(("holding.released", "999"))
    h.check_restart("ready pulses=0 reconcile=")
    h.check_pulses("first pulses=1")
    assert h.tally.half_done == 1 and h.tally.half_done_unflagged == 1
    assert h.tally.locks_driven_at_startup == 1
    assert h.tally.lost == 1

    with con:
        con.execute("DELETE FROM events WHERE id=(SELECT MIN(id) + 3 FROM events)")
    con.close()
    h.check_restart("ready pulses=0 reconcile=2")
    assert h.tally.chain_failures == 1
    assert h.tally.half_done_unflagged == 1  # the same holding, now flagged: not counted twice
