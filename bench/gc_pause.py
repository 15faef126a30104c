"""A full garbage collection at the hatch: how long it stops the station, with and without
freezing the start-up heap (issue 15, "The hatch is instant").

Why: CPython runs a full (generation 2) collection when enough objects have survived the
younger ones; it walks every tracked object in the process and holds the GIL while it does.
A started station holds ~100k such objects (SQLAlchemy, pydantic, the ORM mappers, the
policy profile), nearly all alive until the process ends, so a full collection that falls
on a tap is a pause the pupil waits through. ``gc.freeze()`` once the station has started
(kiosk.memory.freeze_startup_heap) moves them into a generation the collector never walks.

Method: open and start the demo station on simulated hardware (the same ``open_station``
and ``StationService`` that ``kiosk run`` uses), then time ``gc.collect()`` N times before
and N times after the freeze, in the same process, and print the CPU and wall figures side
by side with the number of objects each collection walked.

    .venv/bin/python bench/gc_pause.py --rounds 20
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path


def _collect(rounds: int) -> tuple[list[float], list[float]]:
    cpu: list[float] = []
    wall: list[float] = []
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        gc.collect()
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    from kiosk.config import load_config
    from kiosk.demo import seed_demo
    from kiosk.memory import freeze_startup_heap
    from kiosk.runtime import close_station, open_station
    from kiosk.service import StationService

    folder = Path(tempfile.mkdtemp(prefix="bench-gc-pause-"))
    seed_demo(folder).close()
    config = load_config(folder / "kiosk.toml")
    station = open_station(config, simulate=True, purpose="bench/gc_pause.py")
    service = StationService(station)
    try:
        service.start()
        tracked = len(gc.get_objects())
        before = _collect(args.rounds)
        frozen = freeze_startup_heap()
        after = _collect(args.rounds)
        walked_after = len(gc.get_objects())
    finally:
        service.stop()
        close_station(station)

    def line(name: str, walked: int, figures: tuple[list[float], list[float]]) -> None:
        cpu, wall = figures
        print(
            f"{name:<28} objects walked {walked:>7}   CPU p50 {statistics.median(cpu):6.2f} ms"
            f"  max {max(cpu):6.2f} ms   wall p50 {statistics.median(wall):6.2f} ms"
            f"  max {max(wall):6.2f} ms"
        )

    print(f"full collections at station ready, {args.rounds} each, same process:")
    line("before gc.freeze()", tracked, before)
    line(f"after (froze {frozen})", walked_after, after)
    saved = statistics.median(before[0]) - statistics.median(after[0])
    print(f"a full collection at a tap costs {saved:.2f} ms less CPU (p50) once frozen")


if __name__ == "__main__":
    main()
