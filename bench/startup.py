"""`kiosk run --simulate`: time to first paint and peak RSS, beside a bare Textual app.

Run: .venv/bin/python bench/startup.py [--runs 5]

Each run starts a fresh process under a pseudo-terminal (bench/ui_process.py): the kiosk on a
seeded demo station, and in the same run, alternately, a bare Textual app with one Static.
First paint is Textual's ``Ready`` event (DOM ready and first frame displayed), timed from
just before the process is spawned; peak RSS is the process's own VmHWM at first paint (and
at exit, after the station closed); the CPU time the process used up to first paint (all
threads) is printed too, as the machine's load adds little to it. Goals (issue 15): first
paint <= 0.5 s, peak <= 60 MB. The kiosk now paints a locked "starting" screen and opens its
station after the first frame (tui/app.py), so the moment the idle screen is up with the
station open ("station ready") is printed too: first paint alone would flatter it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ui_process import demo_station, spawn


def once(mode: str, config: Path | None) -> tuple[float, float, float, float, float, float, float]:
    """(paint s, RSS MB at paint, RSS MB at exit, CPU ms to paint, ready s, RSS MB at
    ready, CPU ms to ready); "ready" is the idle screen up with the station open, which
    is first paint itself for the bare app and for a kiosk that opens before painting."""
    ui = spawn(mode, config)
    first = ui.next_report()
    report = ui.next_report()
    ready = first
    if report.get("station_ready"):
        ready, report = report, ui.next_report()
    ui.proc.wait(timeout=30)
    return (
        first["t"] - ui.started,
        first["hwm_kb"] / 1024,
        report["exit_hwm_kb"] / 1024,
        first["cpu"] * 1000,
        ready["t"] - ui.started,
        ready["hwm_kb"] / 1024,
        ready["cpu"] * 1000,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        config = demo_station(Path(tmp) / "demo")
        once("kiosk", config)  # warm the page cache and .pyc files for both
        once("bare", None)
        kiosk, bare = [], []
        for _ in range(args.runs):
            kiosk.append(once("kiosk", config))
            bare.append(once("bare", None))
    for label, runs in (("kiosk run --simulate", kiosk), ("bare Textual app", bare)):
        paint = [r[0] for r in runs]
        print(
            f"{label:22} first paint median {statistics.median(paint):5.2f} s "
            f"(min {min(paint):.2f}, max {max(paint):.2f}), CPU to first paint "
            f"{statistics.median(r[3] for r in runs):4.0f} ms; peak RSS at first paint "
            f"{statistics.median(r[1] for r in runs):5.1f} MB, at exit "
            f"{statistics.median(r[2] for r in runs):5.1f} MB"
        )
    print(
        f"{'kiosk: station ready':22} idle screen up median "
        f"{statistics.median(r[4] for r in kiosk):5.2f} s, CPU "
        f"{statistics.median(r[6] for r in kiosk):4.0f} ms, peak RSS "
        f"{statistics.median(r[5] for r in kiosk):5.1f} MB (the station opens after first paint)"
    )
    kp, bp = statistics.median(r[0] for r in kiosk), statistics.median(r[0] for r in bare)
    km, bm = statistics.median(r[2] for r in kiosk), statistics.median(r[2] for r in bare)
    kc, bc = statistics.median(r[3] for r in kiosk), statistics.median(r[3] for r in bare)
    print(
        f"ratio kiosk/bare: first paint {kp / bp:.1f}x, CPU to first paint {kc / bc:.1f}x, "
        f"peak RSS {km / bm:.1f}x; "
        f"goals: paint <= 0.5 s {'met' if kp <= 0.5 else 'NOT met'}, "
        f"peak <= 60 MB {'met' if km <= 60 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
