"""CPU and wake-ups of `kiosk run --simulate` sitting idle, beside a bare Textual app.

Run: .venv/bin/python bench/idle.py [--seconds 20]

Three processes, one after the other, each under a pseudo-terminal (bench/ui_process.py) and
left alone for N seconds after its first paint: the kiosk with the simulated hardware as
``kiosk run --simulate`` builds it (card reader polling included), the kiosk with the
simulated card reader removed, and a bare Textual app (the peer). CPU is utime + stime of
the whole process over the window (% of one core); wake-ups are context switches of all its
threads per second. Goal (issue 15): <= 1 % of a core with the simulator running.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ui_process import demo_station, spawn


def idle(mode: str, config: Path | None, seconds: float) -> tuple[float, float]:
    ui = spawn(mode, config, stay=True)
    try:
        ui.next_report()  # first paint
        if mode != "bare":
            ui.next_report()  # the station opened after first paint (tui/app.py): idle screen up
        time.sleep(1.0)  # let start-up work (reconcile, first refreshes) finish
        c0, w0, t0 = ui.cpu_s(), ui.context_switches(), time.monotonic()
        time.sleep(seconds)
        c1, w1, t1 = ui.cpu_s(), ui.context_switches(), time.monotonic()
    finally:
        ui.quit()
    return (c1 - c0) / (t1 - t0) * 100, (w1 - w0) / (t1 - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()}; window {args.seconds:.0f} s each")
    with tempfile.TemporaryDirectory() as tmp:
        config = demo_station(Path(tmp) / "demo")
        results = {
            "kiosk run --simulate": idle("kiosk", config, args.seconds),
            "  without card reader": idle("kiosk-noreader", config, args.seconds),
            "bare Textual app": idle("bare", None, args.seconds),
        }
    bare_cpu = max(results["bare Textual app"][0], 0.01)
    for label, (cpu, wakeups) in results.items():
        print(
            f"{label:22} {cpu:5.2f} % of a core ({cpu / bare_cpu:5.1f}x bare), "
            f"{wakeups:6.1f} wake-ups/s"
        )
    cpu = results["kiosk run --simulate"][0]
    print(f"goal <= 1 % of a core with the simulator: {'met' if cpu <= 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
