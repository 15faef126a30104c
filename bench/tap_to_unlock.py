"""Tap event to unlock command at the hatch, on a school year of ledger, beside a bare commit.

Run: .venv/bin/python bench/tap_to_unlock.py [--taps 200] [--year bench/.data/school_year]

The timed path is the release a parent's visit takes once the pupil's card is tapped:
``Custody.card_tapped`` (the pupil, their contacts and their open holdings in one read
transaction, what the release screen asks on a tap) -> ``Custody.begin_release`` (policy
decision, ``releasing`` committed with its event, WAL, ``synchronous=FULL``) ->
``Station.release`` up to the moment it calls the lock bank's ``unlock`` (the unlock
command). The bank is a recorder that returns at once: the pulse,
the door and RS-485 retries are hardware time, measured by bench/tap_latency.py.

Untimed around each tap: a phone is confiscated into a GPIO locker in the morning and the
release completed after the tap, so every tap finds one held phone, as at the hatch.

Peer, in the same run, interleaved tap for tap, in the same directory: a bare ``sqlite3``
transaction that inserts one row and commits with the same settings (WAL,
``synchronous=FULL``), i.e. the floor set by the disk's fsync. Goal (issue 15): p99 <= 10 ms.
After the taps, in the same process: the tap's lookups two ways, alternated tap for tap
(``pupil_by_card`` + ``holdings(pupil_id=)`` as the path was before ``card_tapped``).
Also run on a freshly seeded demo ledger (``--fresh``) to show what the ledger's size costs.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from bench.school_year import DEFAULT_OUT, ensure
from db.models import Event, Holding, Locker, LockerState, Pupil
from hardware.ports import UnlockOutcome
from kiosk.custody import Collector
from kiosk.demo import DEMO_BADGES, demo_config, seed_demo
from kiosk.runtime import close_station, open_station


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class _RecordingBank:
    """Stands in for a lock bank: notes when the unlock command is given, opens nothing."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.unlocked_at: float = 0.0
        self.unlocked_cpu: float = 0.0

    def unlock(self, number: int) -> UnlockOutcome:
        self.unlocked_at = time.perf_counter()
        self.unlocked_cpu = time.process_time()
        return UnlockOutcome.OPENED

    def door_state(self, number: int) -> object:
        return self.inner.door_state(number)  # type: ignore[attr-defined]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))]


def lookups(custody: Any, actor: Any, cards: list[Any], taps: int) -> dict[str, list[float]]:
    """CPU of the tap's lookups two ways, same process, the order swapped every tap: the
    two calls the release path made before ``card_tapped`` (``pupil_by_card`` +
    ``holdings(pupil_id=)``, each its own transaction) beside ``card_tapped`` (one)."""
    cpu: dict[str, list[float]] = {"two calls": [], "card_tapped": []}

    def two(uid: str) -> None:
        pupil = custody.pupil_by_card(actor, uid)
        custody.holdings(actor, pupil_id=pupil.id)

    def one(uid: str) -> None:
        custody.card_tapped(actor, uid)

    for i in range(taps):
        uid = str(cards[(i * 37) % len(cards)][1])
        order = [("two calls", two), ("card_tapped", one)]
        for name, fn in order if i % 2 else order[::-1]:
            c0 = time.process_time()
            fn(uid)
            cpu[name].append((time.process_time() - c0) * 1000)
    return cpu


def run(
    folder: Path, taps: int, *, freeze: bool = True
) -> tuple[list[float], list[float], list[float], dict[str, int], dict[str, list[float]]]:
    clock = _Clock(datetime(2026, 7, 1, 8, tzinfo=UTC))
    station = open_station(demo_config(folder), simulate=True, clock=clock)
    ctx = station.ctx
    custody = ctx.custody
    bare = sqlite3.connect(folder / "bare.db", isolation_level=None)
    bare.execute("PRAGMA journal_mode=WAL")
    bare.execute("PRAGMA synchronous=FULL")
    bare.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    try:
        office = custody.sign_in(*DEMO_BADGES["office"])  # a real sign-in (issue 9)
        with ctx.sessions() as s:
            cards = list(
                s.execute(select(Pupil.id, Pupil.card_uid).where(Pupil.card_uid.is_not(None)))
            )
            gpio = [
                lk.id
                for lk in s.scalars(select(Locker).where(Locker.bank == "A").order_by(Locker.id))
                if lk.state == LockerState.FREE
            ]
            sizes = {
                "pupils": s.scalar(select(func.count(Pupil.id))) or 0,
                "holdings": s.scalar(select(func.count(Holding.id))) or 0,
                "events": s.scalar(select(func.count(Event.id))) or 0,
            }
        if freeze:  # as `kiosk run` does once its station is built (bench/gc_pause.py)
            gc.collect()
            gc.freeze()
        recorder = _RecordingBank(station.banks["A"])
        station.banks["A"] = recorder  # type: ignore[assignment]
        kiosk_ms: list[float] = []
        cpu_ms: list[float] = []
        bare_ms: list[float] = []
        day = datetime(2026, 6, 1, tzinfo=UTC)
        for i in range(taps):
            pupil_id, uid = cards[(i * 37) % len(cards)]
            # untimed: the phone goes in in the morning
            clock.now = day + timedelta(days=i // 50, hours=9, minutes=i % 50)
            h, _ = custody.confiscate(
                office,
                pupil_id=pupil_id,
                category="unauthorised_use",
                device_description="phone",
                switched_off_confirmed=True,
                locker_id=gpio[i % len(gpio)],
            )
            custody.confirm_deposit(office, h.id)
            clock.now += timedelta(hours=7)
            # timed: the card is tapped at the hatch ... the unlock command is given
            t0, c0 = time.perf_counter(), time.process_time()
            tapped = custody.card_tapped(office, str(uid))
            pupil = tapped.pupil
            assert pupil is not None
            view, _ = custody.begin_release(
                office,
                next(x.id for x in tapped.holdings if x.id == h.id),
                Collector("contact", pupil.contacts[0].id),
                "passport",
            )
            result = station.release(office, view, timeout=1e-6)
            kiosk_ms.append((recorder.unlocked_at - t0) * 1000)
            cpu_ms.append((recorder.unlocked_cpu - c0) * 1000)  # up to the unlock command too
            # untimed: the simulated door reads closed, so the station completes the release
            if result.holding.state != "released":
                custody.complete_release(office, view.id)
            # the peer, same moment, same disk
            t0 = time.perf_counter()
            bare.execute("BEGIN IMMEDIATE")
            bare.execute("INSERT INTO t (v) VALUES (?)", (f"tap {i}",))
            bare.execute("COMMIT")
            bare_ms.append((time.perf_counter() - t0) * 1000)
        lookup_cpu = lookups(custody, office, cards, taps)
    finally:
        bare.close()
        close_station(station)
    return kiosk_ms, bare_ms, cpu_ms, sizes, lookup_cpu


def report(
    label: str,
    kiosk_ms: list[float],
    bare_ms: list[float],
    cpu_ms: list[float],
    sizes: dict[str, int],
    lookup_cpu: dict[str, list[float]],
) -> None:
    k50, k99 = statistics.median(kiosk_ms), pct(kiosk_ms, 0.99)
    b50, b99 = statistics.median(bare_ms), pct(bare_ms, 0.99)
    print(
        f"{label}: {sizes['pupils']} pupils, {sizes['holdings']} holdings, "
        f"{sizes['events']} events; {len(kiosk_ms)} taps"
    )
    print(
        f"  tap -> unlock command  p50 {k50:6.2f} ms  p99 {k99:6.2f} ms  "
        f"max {max(kiosk_ms):6.2f} ms   (goal p99 <= 10 ms: {'met' if k99 <= 10 else 'NOT met'})"
    )
    print(
        f"  bare SQLite commit     p50 {b50:6.2f} ms  p99 {b99:6.2f} ms  max {max(bare_ms):6.2f} ms"
        "   (WAL, synchronous=FULL, same disk, interleaved)"
    )
    print(
        f"  CPU of this process, tap -> unlock command, p50 {statistics.median(cpu_ms):6.2f} ms  "
        f"p99 {pct(cpu_ms, 0.99):6.2f} ms  (the part of the wall time the machine's load "
        "does not add to)"
    )
    print(f"  ratio kiosk/bare       p50 {k50 / b50:6.1f}x    p99 {k99 / b99:6.1f}x")
    for name, values in lookup_cpu.items():
        print(
            f"  lookups, CPU, {name:<12} p50 {statistics.median(values):6.2f} ms  "
            f"p99 {pct(values, 0.99):6.2f} ms  (same process, alternated tap for tap)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--taps", type=int, default=200)
    ap.add_argument("--year", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--fresh", action="store_true", help="also run on a fresh demo ledger")
    ap.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave the start-up heap to the collector (kiosk run freezes it: kiosk/memory.py)",
    )
    args = ap.parse_args()
    freeze = not args.no_freeze
    with tempfile.TemporaryDirectory(dir=args.year.parent) as tmp:
        if args.fresh:
            fresh = Path(tmp) / "fresh"
            seed_demo(fresh, now=datetime(2026, 5, 1, tzinfo=UTC)).close()
            report("fresh demo ledger", *run(fresh, args.taps, freeze=freeze))
        copy = Path(tmp) / "year"
        shutil.copytree(ensure(args.year), copy)
        report("school year", *run(copy, args.taps, freeze=freeze))


if __name__ == "__main__":
    main()
