"""What the running station loads, and its malloc settings (issue 15, "Start-up and memory").

The import check runs in a fresh interpreter (a module imported once stays imported, so it
cannot be checked in the test process): it opens the seeded demo station with simulated
hardware, starts it, lists the simulator's demo cards (which imports ``kiosk.demo``, as the
idle screen and the F2 panel do) and signs the office badge in, then reads
``sys.modules``. The station appends events all day but never verifies the chain in
parallel (``multiprocessing``) and never seeds the demo school (the MIS importer, the
replay and staff-admin modules behind it): those stay out of its memory. No RSS figure is
asserted here: bench/startup.py measures them.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import kiosk.headless
import kiosk.memory
from kiosk.cli import main
from kiosk.demo import DEMO_BADGES

ROOT = Path(__file__).resolve().parents[2]

#: Loaded by the ready, signed-in station: never (the chain's parallel verify, demo seeding).
NOT_LOADED = (
    "multiprocessing",
    "concurrent.futures.process",
    "kiosk.mis_import",
    "kiosk.audit_replay",
    "kiosk.exam_import",
)


def _station_modules(config: Path) -> set[str]:
    script = textwrap.dedent(
        """
        import json, sys
        from kiosk.config import load_config
        from kiosk.runtime import close_station, demo_cards, open_station
        from kiosk.service import StationService

        station = open_station(load_config(sys.argv[1]), simulate=True)
        service = StationService(station)
        try:
            service.start()
            demo_cards()
            station.ctx.custody.sign_in(sys.argv[2], sys.argv[3])
        finally:
            service.stop()
            close_station(station)
        sys.stderr.write(json.dumps(sorted(sys.modules)) + "\\n")
        """
    )
    uid, pin = DEMO_BADGES["office"]
    done = subprocess.run(
        [sys.executable, "-c", script, str(config), uid, pin],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_the_ready_station_does_not_load_verify_workers_or_the_demo_seeder(
    tmp_path: Path, demo_template: Path
) -> None:
    folder = tmp_path / "demo"
    shutil.copytree(demo_template, folder)
    modules = _station_modules(folder / "kiosk.toml")
    assert not modules & set(NOT_LOADED), sorted(modules & set(NOT_LOADED))
    # The check can fail: the station did load the ledger, the demo card list and Argon2.
    assert {"sqlalchemy", "kiosk.demo", "argon2"} <= modules


def test_tune_malloc_applies_on_glibc_and_says_when_it_cannot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On glibc ``mallopt`` accepts both settings (in a fresh interpreter: the settings
    last for the process); where there is no ``mallopt`` (musl, macOS, a stripped libc)
    the station runs on without them."""
    if platform.libc_ver()[0] == "glibc":
        done = subprocess.run(
            [sys.executable, "-c", "from kiosk.memory import tune_malloc; print(tune_malloc())"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=True,
        )
        assert done.stdout.strip() == "True"

    class NoMallopt:
        def __init__(self, _name: object) -> None:
            pass

        def __getattr__(self, name: str) -> object:
            raise AttributeError(name)

    monkeypatch.setattr(kiosk.memory.ctypes, "CDLL", NoMallopt)
    assert kiosk.memory.tune_malloc() is False


@pytest.mark.parametrize("args", [["run", "--simulate"], ["run", "--headless", "--simulate"]])
def test_kiosk_run_tunes_malloc_before_the_station_starts(
    args: list[str], tmp_path: Path, demo_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kiosk run`` (UI or headless) fixes malloc before any station thread exists: the
    launcher (the UI, or the headless loop) sees it already done."""
    calls: list[str] = []
    monkeypatch.setattr(kiosk.memory, "tune_malloc", lambda: calls.append("tune") or True)

    def launcher(_config: object, *, simulate: bool) -> None:
        calls.append("station")

    monkeypatch.setattr(kiosk.headless, "run_headless", lambda *_a, **_k: calls.append("station"))
    folder = tmp_path / "demo"
    shutil.copytree(demo_template, folder)
    result = CliRunner().invoke(
        main,
        ["--config", str(folder / "kiosk.toml"), *args],
        obj={"ui": {"staff": launcher}},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert calls == ["tune", "station"]
