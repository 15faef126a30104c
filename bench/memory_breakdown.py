"""Where the station's Python memory goes, by package, phase by phase (issue 15, memory).

Run: .venv/bin/python bench/memory_breakdown.py [--top 12]

In a child process (so the parent's imports do not count), one thread does what
``kiosk run --simulate`` does, in its order, without the terminal: the first frame's
imports (Textual, ``tui.app``, ``kiosk.cli``, the config), the station opened and started
(``kiosk.runtime.open_station``, the idle screen's modules), then one sign-in of the office
demo badge. ``tracemalloc`` counts every Python allocation; each import's own share (its
code objects, the classes and tables it builds, less its sub-imports') is charged to its
top-level package. Printed per phase: what the phase allocated, the part its imports
allocated, by package, and the process's resident size split into anonymous and
file-backed pages (``/proc/self/status``; tracemalloc's own bookkeeping inflates the
anonymous part, so compare those with bench/startup.py's figures, not with each other).
The child imports the kiosk installed in the interpreter that runs this script (another
checkout's ``.venv/bin/python`` measures that checkout).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ui_process import demo_station

CHILD = r"""
import collections, json, sys, tracemalloc
tracemalloc.start()
import _frozen_importlib as _fi

own = collections.Counter()
stack = []
load = _fi._load_unlocked


def _load_unlocked(spec):
    before = tracemalloc.get_traced_memory()[0]
    stack.append(0)
    try:
        return load(spec)
    finally:
        children = stack.pop()
        total = tracemalloc.get_traced_memory()[0] - before
        own[spec.name.split(".")[0]] += total - children
        if stack:
            stack[-1] += total


_fi._load_unlocked = _load_unlocked


def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) // 1024
    return out


phases = []


def mark(name):
    phases.append(
        {"phase": name, "traced": tracemalloc.get_traced_memory()[0], "own": dict(own),
         "modules": len(sys.modules), **status()}
    )


mark("interpreter")
import textual.app
import textual.widgets
import tui.app
import tui.screens.starting
from kiosk.cli import main
from kiosk.config import load_config

config = load_config(sys.argv[1])
mark("first paint")
from kiosk.runtime import close_station, demo_cards, open_station
from kiosk.service import StationService
import tui.screens.idle
import tui.widgets.alarm_banner
import tui.widgets.simulator_panel

station = open_station(config, simulate=True)
service = StationService(station)
service.start()
demo_cards()
mark("station ready")
import tui.screens.home
import tui.screens.login

station.ctx.custody.sign_in(sys.argv[2], sys.argv[3])
mark("signed in")
service.stop()
close_station(station)
sys.stderr.write(json.dumps(phases) + "\n")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--top", type=int, default=12, help="packages listed per phase")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = demo_station(Path(tmp) / "demo")
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(config), "AB000001", "3917"],
            capture_output=True,
            text=True,
            cwd=tmp,  # not the checkout: the interpreter's own install is measured
            check=True,
        )
    phases = json.loads(done.stderr.strip().splitlines()[-1])
    for before, now in itertools.pairwise(phases):
        grown = {
            k: v - before["own"].get(k, 0)
            for k, v in now["own"].items()
            if v - before["own"].get(k, 0) > 0
        }
        top = sorted(grown.items(), key=lambda kv: -kv[1])[: args.top]
        allocated = (now["traced"] - before["traced"]) / 2**20
        imported = sum(grown.values()) / 2**20
        print(
            f"{now['phase']:14} Python allocations +{allocated:5.1f} MB "
            f"(imports +{imported:5.1f} MB, "
            f"+{now['modules'] - before['modules']} modules); resident {now['VmRSS']} MB "
            f"(anonymous {now['RssAnon']}, file-backed {now['RssFile']})"
        )
        print("   " + ", ".join(f"{k} {v / 2**20:.2f}" for k, v in top))


if __name__ == "__main__":
    main()
