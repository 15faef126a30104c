"""`kiosk run --simulate`: time to first paint and peak RSS, beside a bare Textual app.

Run: .venv/bin/python bench/startup.py [--runs 5] [--signins 3] [--year bench/.data/school_year]

Each run starts a fresh process under a pseudo-terminal (bench/ui_process.py): the kiosk on a
seeded demo station, and in the same run, alternately, a bare Textual app with one Static
and the "floor" (that bare app reading the office badge's PIN hash through a one-class
SQLAlchemy ORM mapping and verifying the PIN once with Argon2: what any Textual + SQLAlchemy
ORM + Argon2 station holds at a sign-in, whatever else it does). First paint is Textual's
``Ready`` event (DOM ready and first frame displayed), timed from just before the process is
spawned; peak RSS is the process's own VmHWM at that moment; the CPU time the process used
up to first paint (all threads) is printed too, as the machine's load adds little to it.
The kiosk paints a locked "starting" screen and opens its station after the first frame
(tui/app.py), so the moment the idle screen is up with the station open ("station ready")
is printed too; then the office demo badge signs in ``--signins`` times through the
simulated reader and the PIN box (bench/ui_child.py), and the peak after the first sign-in
and the resident size after the first and the last are printed: a sign-in verifies an
Argon2 hash (7 MiB by default, ``auth.argon2_memory_kib``), and memory that stays after it
would grow the station.
Goals (issue 15): first paint <= 0.5 s, peak <= 60 MB "sign-ins included".
``--year FOLDER`` runs on a copy of that station (bench/school_year.py's year, whose staff
are the demo's) instead of a freshly seeded demo: a big ledger's page cache counts too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ui_process import demo_station, spawn

MB = 1024.0


def once(mode: str, config: Path | None, signins: int = 0) -> dict[str, float]:
    """One process's figures: ``paint`` s, ``paint_mb`` (peak at first paint), ``cpu`` ms to
    first paint, ``ready`` s / ``ready_mb`` / ``ready_cpu`` (idle screen up with the station
    open: first paint itself for the bare app and for a kiosk that opens before painting),
    ``sign1_mb`` / ``sign1_rss`` (peak and resident after the first sign-in),
    ``signN_rss`` (resident after the last) and ``exit_mb`` (peak of the whole run)."""
    ui = spawn(mode, config, signins=signins)
    first = ui.next_report()
    ready = first
    signed: list[dict[str, float]] = []
    report = ui.next_report()
    if report.get("station_ready"):
        ready, report = report, ui.next_report()
    while report.get("signed_in"):
        signed.append(report)
        report = ui.next_report()
    ui.proc.wait(timeout=30)
    out = {
        "paint": first["t"] - ui.started,
        "paint_mb": first["hwm_kb"] / MB,
        "cpu": first["cpu"] * 1000,
        "ready": ready["t"] - ui.started,
        "ready_mb": ready["hwm_kb"] / MB,
        "ready_cpu": ready["cpu"] * 1000,
        "exit_mb": report["exit_hwm_kb"] / MB,
    }
    if signed:
        out["sign1_mb"] = signed[0]["hwm_kb"] / MB
        out["sign1_rss"] = signed[0].get("rss_kb", 0) / MB
        out["signN_rss"] = signed[-1].get("rss_kb", 0) / MB
    return out


def med(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--signins", type=int, default=3, help="sign-ins per kiosk run (>= 1)")
    ap.add_argument("--year", type=Path, help="a station folder to copy and run instead")
    args = ap.parse_args()
    signins = max(1, args.signins)
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.year is not None:
            shutil.copytree(args.year, Path(tmp) / "year")
            config = Path(tmp) / "year" / "kiosk.toml"
        else:
            config = demo_station(Path(tmp) / "demo")
        once("kiosk", config, signins)  # warm the page cache and .pyc files for all three
        once("bare", None)
        once("floor", config)
        kiosk, bare, floor = [], [], []
        for _ in range(args.runs):
            kiosk.append(once("kiosk", config, signins))
            bare.append(once("bare", None))
            floor.append(once("floor", config))
    for label, runs in (("kiosk run --simulate", kiosk), ("bare Textual app", bare)):
        paint = [r["paint"] for r in runs]
        print(
            f"{label:22} first paint median {statistics.median(paint):5.2f} s "
            f"(min {min(paint):.2f}, max {max(paint):.2f}), CPU to first paint "
            f"{med(runs, 'cpu'):4.0f} ms; peak RSS at first paint "
            f"{med(runs, 'paint_mb'):5.1f} MB"
        )
    print(
        f"{'kiosk: station ready':22} idle screen up median {med(kiosk, 'ready'):5.2f} s, CPU "
        f"{med(kiosk, 'ready_cpu'):4.0f} ms, peak RSS {med(kiosk, 'ready_mb'):5.1f} MB "
        "(the station opens after first paint)"
    )
    print(
        f"{'kiosk: signed in':22} peak RSS after the first sign-in "
        f"{med(kiosk, 'sign1_mb'):5.1f} MB (resident then {med(kiosk, 'sign1_rss'):5.1f} MB); "
        f"resident after sign-in {signins}: {med(kiosk, 'signN_rss'):5.1f} MB; "
        f"peak over the run {med(kiosk, 'exit_mb'):5.1f} MB"
    )
    print(
        f"{'floor':22} peak RSS after one ORM read + Argon2 verify "
        f"{med(floor, 'exit_mb'):5.1f} MB (bare Textual + SQLAlchemy ORM + one hash, "
        f"first paint {med(floor, 'paint_mb'):5.1f} MB)"
    )
    kp, bp = med(kiosk, "paint"), med(bare, "paint")
    kc, bc = med(kiosk, "cpu"), med(bare, "cpu")
    km, bm, fm = med(kiosk, "exit_mb"), med(bare, "exit_mb"), med(floor, "exit_mb")
    print(
        f"ratio kiosk/bare: first paint {kp / bp:.1f}x, CPU to first paint {kc / bc:.1f}x, "
        f"peak RSS {km / bm:.1f}x (kiosk/floor {km / fm:.2f}x); "
        f"goals: paint <= 0.5 s {'met' if kp <= 0.5 else 'NOT met'}, "
        f"peak <= 60 MB with sign-ins {'met' if km <= 60 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
