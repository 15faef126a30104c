"""Measure tap latency: Simulator.tap() -> BadgeTapped callback, through the real mfrc522 code.

Run: .venv/bin/python bench/tap_latency.py [--taps 200] [--poll-ms 50]
The figures include the reader's poll interval (the dominant term) and the emulated SPI traffic.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hardware.bundle import HardwareSpec, RC522Spec, build_hardware
from hardware.ports import BadgeTapped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--taps", type=int, default=200)
    ap.add_argument("--poll-ms", type=float, default=50.0)
    args = ap.parse_args()
    spec = HardwareSpec(readers=(RC522Spec("desk", poll_interval_s=args.poll_ms / 1000),))
    bundle = build_hardware(spec, simulate=True)
    sim = bundle.simulator
    assert sim is not None
    reader = bundle.readers[0]
    got = threading.Event()
    arrived: list[float] = []

    def on_event(ev: object) -> None:
        if isinstance(ev, BadgeTapped):
            arrived.append(time.perf_counter())
            got.set()

    reader.start(on_event)
    latencies: list[float] = []
    try:
        for i in range(args.taps):
            got.clear()
            # a person's tap is not synchronised with the poll loop: random phase
            time.sleep(random.uniform(0, args.poll_ms / 1000))
            t0 = time.perf_counter()
            sim.tap(f"{0xA0000000 + i:08X}")
            if not got.wait(5):
                print(f"tap {i}: no event within 5 s", file=sys.stderr)
                continue
            latencies.append((arrived[-1] - t0) * 1000)
            sim.remove_card()
            # wait until the reader has noticed the removal so the next tap is a new one
            while getattr(reader, "current_uid", None) is not None:
                time.sleep(0.001)
    finally:
        bundle.close()
    latencies.sort()
    p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"taps: {len(latencies)}/{args.taps}  poll interval: {args.poll_ms:.0f} ms")
    print(f"median {statistics.median(latencies):.1f} ms  p95 {p95:.1f} ms  "
          f"max {latencies[-1]:.1f} ms  min {latencies[0]:.1f} ms")


if __name__ == "__main__":
    main()
