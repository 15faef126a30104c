"""RC522 cost and tap latency, through the real mfrc522 code over the emulated chip.

Run: .venv/bin/python bench/tap_latency.py [--taps 200] [--poll-ms 50] [--idle-s 5]

Three figures, each beside its peer measured in the same run:

1. SPI transfers per empty poll: the adapter's poll (ends on the chip's timer interrupt) beside
   the library's own ``MFRC522_Request`` (its wait loop never stops on the timer, so it runs its
   2,000 reads). Goal: <= 40. Transfers carry to a Pi: at the Pi's 1 MHz SPI clock a 2-byte
   transfer is >= 16 us on the wire, before the syscall around it.
2. Tap -> BadgeTapped p50/p95 at the chosen poll interval (a person's tap has a random phase
   against the poll loop, so the figures include up to one poll interval of waiting).
3. The reader thread at idle, per second: SPI transfers (and their wire time at 1 MHz), and the
   thread's CPU time on this machine, beside what the library's loop would cost at the same
   poll rate.
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
from hardware.rc522 import RC522Reader

SPI_HZ = 1_000_000
BITS_PER_TRANSFER = 16  # address byte + data byte


def wire_ms(transfers: float) -> float:
    return transfers * BITS_PER_TRANSFER / SPI_HZ * 1000


def pct(sorted_values: list[float], p: float) -> float:
    return sorted_values[max(0, round(p * len(sorted_values)) - 1)]


def thread_cpu_s(thread: threading.Thread | None) -> float:
    """CPU time of one thread (Linux: pthread_getcpuclockid)."""
    if thread is None or thread.ident is None:
        return float("nan")
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--taps", type=int, default=200)
    ap.add_argument("--poll-ms", type=float, default=50.0)
    ap.add_argument("--idle-s", type=float, default=5.0)
    args = ap.parse_args()
    spec = HardwareSpec(readers=(RC522Spec("desk", poll_interval_s=args.poll_ms / 1000),))
    bundle = build_hardware(spec, simulate=True)
    sim = bundle.simulator
    assert sim is not None
    reader = bundle.readers[0]
    assert isinstance(reader, RC522Reader)

    # 1. transfers per empty poll, ours beside the library's, same chip, same run
    reader.read_version()  # open the device
    ours = [reader.measure_empty_poll() for _ in range(20)]
    ours_n = [n for n in ours if n is not None]
    lib = [reader.library_request_transfers() for _ in range(5)]
    print("SPI transfers per empty poll (goal <= 40):")
    print(
        f"  adapter poll (ends on TimerIRq): median {statistics.median(ours_n):.0f}, "
        f"max {max(ours_n)}  ({wire_ms(statistics.median(ours_n)):.2f} ms on the wire at 1 MHz)"
    )
    print(
        f"  library MFRC522_Request:         median {statistics.median(lib):.0f}, "
        f"max {max(lib)}  ({wire_ms(statistics.median(lib)):.2f} ms on the wire at 1 MHz)"
    )

    got = threading.Event()
    arrived: list[float] = []

    def on_event(ev: object) -> None:
        if isinstance(ev, BadgeTapped):
            arrived.append(time.perf_counter())
            got.set()

    reader.start(on_event)
    latencies: list[float] = []
    try:
        # 3. idle cost of the reader thread (first, with the field empty)
        chip = sim.chips["desk"]
        t_before, c_before = chip.transfers, thread_cpu_s(reader._thread)
        polls_before, w0 = reader.polls, time.perf_counter()
        time.sleep(args.idle_s)
        elapsed = time.perf_counter() - w0
        per_s = (chip.transfers - t_before) / elapsed
        polls_per_s = (reader.polls - polls_before) / elapsed
        cpu_ms_per_s = (thread_cpu_s(reader._thread) - c_before) / elapsed * 1000
        lib_per_s = statistics.median(lib) * polls_per_s

        # 2. tap latency
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
            while reader.current_uid is not None:
                time.sleep(0.001)
    finally:
        bundle.close()
    latencies.sort()
    print(f"Tap -> BadgeTapped, poll interval {args.poll_ms:.0f} ms, {len(latencies)}/{args.taps}:")
    print(
        f"  p50 {statistics.median(latencies):.1f} ms  p95 {pct(latencies, 0.95):.1f} ms  "
        f"max {latencies[-1]:.1f} ms  min {latencies[0]:.1f} ms"
    )
    print(f"Reader thread at idle ({args.idle_s:.0f} s, {polls_per_s:.1f} polls/s):")
    print(
        f"  adapter: {per_s:.0f} transfers/s = {wire_ms(per_s):.1f} ms/s of SPI at 1 MHz; "
        f"thread CPU here {cpu_ms_per_s:.1f} ms/s"
    )
    print(
        f"  library loop at the same poll rate: {lib_per_s:.0f} transfers/s = "
        f"{wire_ms(lib_per_s):.0f} ms/s of SPI at 1 MHz"
    )


if __name__ == "__main__":
    main()
