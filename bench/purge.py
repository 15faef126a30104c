"""Retention purge benchmark: how long the nightly purge takes to remove half of a school
year's audit events behind a checkpoint, beside `kiosk audit verify` over the same ledger
before and after (the peer, measured in the same run).

Prints measured figures; nothing is asserted. Run: .venv/bin/python bench/purge.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import policies
from db.audit import append_event, verify_chain
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from kiosk.retention import purge


def main(n: int = 60_000) -> None:
    profile = policies.load_profile("default")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        sessions = make_session_factory(engine)
        t0 = datetime(2026, 9, 1, 8, tzinfo=UTC)
        for base in range(0, n, 1000):
            with sessions.begin() as s:
                for i in range(base, min(base + 1000, n)):
                    append_event(
                        s,
                        station_id="bench",
                        type="holding.held",
                        occurred_at=t0 + timedelta(seconds=i),
                        holding_id=i,  # holdings long purged: nothing holds the events back
                        payload={"locker": "A1"},
                    )

        start = time.perf_counter()
        with sessions() as s:
            assert verify_chain(s).ok
        verify_before = time.perf_counter() - start

        now = t0 + timedelta(days=profile.retention.event_days.value, seconds=n // 2)
        start = time.perf_counter()
        with sessions.begin() as s:
            report = purge(s, profile, now=now, station_id="bench")
        purge_s = time.perf_counter() - start

        start = time.perf_counter()
        with sessions() as s:
            after = verify_chain(s)
        verify_after = time.perf_counter() - start
        assert after.ok
        engine.dispose()
    print(f"ledger: {n} events; purge removed {report.kinds['events']} behind a checkpoint")
    print(f"purge:                {purge_s * 1000:8.0f} ms")
    print(f"audit verify before:  {verify_before * 1000:8.0f} ms  ({n} events)")
    print(f"audit verify after:   {verify_after * 1000:8.0f} ms  ({after.events_checked} events)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60_000)
