"""Ledger benchmark: how fast events are written (each its own durable commit, as at the
hatch) and how long `kiosk audit verify` takes over a school year's worth of events.

Prints measured figures; nothing is asserted. Run: .venv/bin/python bench/ledger.py [N]
(bench/verify.py measures verify at 10k-1M events with its floor and peak memory.)
A busy school office logs roughly 20-40 confiscations a day, ~10 events each: about
60 000 events in a 190-day year. The default N covers that.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from db.audit import append_event, verify_chain
from db.engine import make_engine, make_read_session_factory, make_session_factory
from db.migrate import upgrade


def main(n: int = 60_000, durable_sample: int = 300) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        sessions = make_session_factory(engine)
        t0 = datetime(2026, 9, 1, 8, tzinfo=UTC)

        # One commit per event, as the kiosk does (WAL, synchronous=FULL).
        start = time.perf_counter()
        for i in range(durable_sample):
            with sessions.begin() as s:
                append_event(
                    s,
                    station_id="bench",
                    type="holding.held",
                    occurred_at=t0 + timedelta(seconds=i),
                    holding_id=i,
                    payload={"locker": "A1"},
                )
        per_commit = (time.perf_counter() - start) / durable_sample

        # Fill up to n in batches (setting up the year is not what is measured).
        batch = 1000
        for base in range(durable_sample, n, batch):
            with sessions.begin() as s:
                for i in range(base, min(base + batch, n)):
                    append_event(
                        s,
                        station_id="bench",
                        type="holding.held",
                        occurred_at=t0 + timedelta(seconds=i),
                        holding_id=i,
                        payload={"locker": "A1"},
                    )
        size_mb = (Path(tmp) / "bench.db").stat().st_size / 1e6

        start = time.perf_counter()
        with make_read_session_factory(engine)() as s:  # as `kiosk audit verify` should
            report = verify_chain(s)
        verify_s = time.perf_counter() - start
        engine.dispose()

    print(
        f"durable event commit: {per_commit * 1000:.2f} ms each "
        f"({1 / per_commit:.0f}/s) over {durable_sample} commits"
    )
    print(
        f"audit verify: {report.events_checked} events in {verify_s:.2f} s "
        f"({report.events_checked / verify_s:.0f} events/s), chain ok={report.ok}"
    )
    print(f"database size with {n} events (+ outbox): {size_mb:.1f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60_000)
