"""``kiosk run --headless``: doors and alarms with no screen, and no Textual (issue 8).

The station runs as a real subprocess; the test forces a door through the simulator command
channel (stdin) and waits, bounded, for the ``forced_open`` alarm in the ledger. Which modules
the process imported is read from ``python -X importtime`` (written by the interpreter itself,
so the process under test carries no test-only code). Also: a second process asking for the
hardware is refused, and ``kiosk --help`` / ``holdings`` / ``signage --print`` stay Textual-free.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import create_engine, select

from db.models import Event
from kiosk.demo import DEMO_BADGES

KIOSK = [sys.executable, "-X", "importtime", "-c", "from kiosk.cli import main; main()"]


def imported(stderr: str) -> set[str]:
    """Top-level module names from ``-X importtime`` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def lines_of(stream: IO[str]) -> queue.Queue[str]:
    q: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            q.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return q


def wait_line(q: queue.Queue[str], text: str, timeout: float = 60.0) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"no line with {text!r} in {seen}")


@pytest.fixture
def school(tmp_path: Path, demo_template: Path) -> Path:
    target = tmp_path / "school"
    shutil.copytree(demo_template, target)
    return target / "kiosk.toml"


def alarms(config: Path) -> list[dict[str, object]]:
    engine = create_engine(f"sqlite:///{config.parent / 'kiosk.db'}")
    try:
        with engine.connect() as c:
            rows = c.execute(select(Event.payload).where(Event.type == "alarm.forced_open"))
            return [dict(r[0]) for r in rows]
    finally:
        engine.dispose()


def test_headless_station_raises_forced_open_without_textual(school: Path) -> None:
    proc = subprocess.Popen(
        [*KIOSK, "--config", str(school), "run", "--headless", "--simulate", "--sim-commands", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    err = lines_of(proc.stderr)
    out = lines_of(proc.stdout)
    try:
        wait_line(out, "station ready")
        # A second process asking for the hardware is refused, naming the holder.
        second = subprocess.run(
            [
                *KIOSK[:1],
                "-m",
                "kiosk.cli",
                "--config",
                str(school),
                "run",
                "--headless",
                "--simulate",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 2
        assert "hardware is in use by pid" in second.stderr
        # So is the technician's hardware test.
        badge, pin = DEMO_BADGES["technician"]
        argv = [*KIOSK[:1], "-m", "kiosk.cli", "--config", str(school), "hw", "test"]
        hw = subprocess.run(
            [*argv, "--simulate", "--badge", badge],
            capture_output=True,
            text=True,
            timeout=120,
            input=f"{pin}\n",
        )
        assert hw.returncode == 2 and "hardware is in use by pid" in hw.stderr
        proc.stdin.write("force A 7\n")
        proc.stdin.flush()
        wait_line(out, "ForcedOpen")
        deadline = time.monotonic() + 30
        while not alarms(school):
            assert time.monotonic() < deadline, "no alarm.forced_open in the ledger"
            threading.Event().wait(0.05)
        assert alarms(school) == [{"bank": "A", "number": 7}]
    finally:
        proc.stdin.close()  # end of commands: the station stops cleanly
        try:
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    stderr = "".join(err.queue)
    assert code == 0, stderr[-2000:]
    modules = imported(stderr)
    assert "kiosk" in modules and "hardware" in modules
    assert "textual" not in modules
    assert "tui" not in modules


@pytest.mark.parametrize(
    "args",
    [["--help"], ["holdings"], ["signage", "--print", "{tmp}/posters.svg"]],
    ids=["help", "holdings", "signage-print"],
)
def test_commands_without_a_screen_never_import_textual(
    school: Path, tmp_path: Path, args: list[str]
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    badge, pin = DEMO_BADGES["office"]
    signed = args == ["holdings"]  # pupil data: a signed-in member of staff
    done = subprocess.run(
        [*KIOSK, "--config", str(school), *args] + (["--badge", badge] if signed else []),
        capture_output=True,
        text=True,
        timeout=120,
        input=f"{pin}\n" if signed else None,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = imported(done.stderr)
    assert "click" in modules
    assert "textual" not in modules and "tui" not in modules
