"""Backups taken while the station writes: are they whole, and what do they cost the writer?

Builds a ledger of ``--events`` hash-chained events, then measures in the same run:

1. the writer alone: events committed per second for ``--seconds`` (the peer figure);
2. the writer while ``--backups`` backups are taken back to back (kiosk.backup.take_backup):
   events per second, and each backup's duration.

Every backup is then checked: ``integrity_check``, the hash chain, and its events equal to the
live ledger's first N events (seq and hash), i.e. a consistent snapshot. Prints the figures;
exits 1 if any backup is not whole.

    .venv/bin/python bench/backup_under_load.py [--events 5000] [--backups 5] [--seconds 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from db.audit import append_event
from db.engine import make_engine, make_session_factory, sqlite_url
from kiosk.backup import check_ledger, take_backup
from kiosk.config import parse_config
from kiosk.context import open_context

STATION = "bench"
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def chain(db: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute("SELECT seq, hash FROM events ORDER BY seq"))
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5000, help="events in the ledger first")
    ap.add_argument("--backups", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of the writer-alone run")
    args = ap.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="kiosk-bench-backup-"))
    data = folder / "station"
    open_context(
        parse_config({"station": {"id": STATION, "data_dir": str(data)}}), migrate=True
    ).close()
    db = data / "kiosk.db"
    engine = make_engine(sqlite_url(db))
    sessions = make_session_factory(engine)
    counter = 0

    def append(batch: int = 1) -> None:
        nonlocal counter
        with sessions.begin() as s:
            for _ in range(batch):
                counter += 1
                append_event(
                    s,
                    station_id=STATION,
                    type="bench_write",
                    occurred_at=T0 + timedelta(seconds=counter),
                    payload={"n": counter, "note": "x" * 200},
                )

    for _ in range(args.events // 100):
        append(100)

    stop = threading.Event()
    written = [0]

    def writer() -> None:
        while not stop.is_set():
            append()
            written[0] += 1

    # 1. the writer alone
    thread = threading.Thread(target=writer)
    start = time.perf_counter()
    thread.start()
    stop.wait(args.seconds)
    stop.set()
    thread.join()
    alone_rate = written[0] / (time.perf_counter() - start)

    # 2. the writer while backups are taken
    stop.clear()
    written[0] = 0
    durations: list[float] = []
    copies: list[Path] = []
    thread = threading.Thread(target=writer)
    start = time.perf_counter()
    thread.start()
    for i in range(args.backups):
        t = time.perf_counter()
        result = take_backup(
            db, folder / "backups", keep=args.backups, now=T0 + timedelta(minutes=i)
        )
        durations.append(time.perf_counter() - t)
        copies.append(result.path)
    stop.set()
    thread.join()
    during_rate = written[0] / (time.perf_counter() - start)
    engine.dispose()

    live = chain(db)
    whole = 0
    for copy in copies:
        check = check_ledger(copy)
        got = chain(copy)
        if check.ok and got == live[: len(got)]:
            whole += 1
        else:
            print(f"NOT WHOLE: {copy}: {check.problem() if not check.ok else 'not a prefix'}")
    size_mb = db.stat().st_size / 1e6
    print(
        f"ledger: {len(live)} events at the end, {size_mb:.1f} MB (python {sys.version.split()[0]})"
    )
    print(f"writer alone:          {alone_rate:8.1f} events/s (synchronous=FULL commits)")
    print(f"writer during backups: {during_rate:8.1f} events/s")
    print(
        f"backups: {len(copies)} taken while writing, {whole} whole (integrity, chain, prefix); "
        f"duration median {statistics.median(durations) * 1000:.0f} ms, "
        f"max {max(durations) * 1000:.0f} ms"
    )
    return 0 if whole == len(copies) else 1


if __name__ == "__main__":
    sys.exit(main())
