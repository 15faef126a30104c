"""`audit verify`'s replay (kiosk.audit_replay.unexplained) beside the chain walk it joins.

Run: .venv/bin/python bench/replay.py [--holdings 20000]

Builds (in a temporary SQLite file) one locker, pupil and contact, and ``--holdings`` honest
confiscation cycles written through ``db.audit.append_event`` with the facts the use-cases
write (depositing, held, releasing, released: four events each), plus the matching rows.
Then times, in this process, :func:`db.audit.verify_chain` (the serial walk) and
:func:`kiosk.audit_replay.unexplained` (replay + table comparison) over the same ledger, and
prints both in events per second, and the peak RSS after each.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from db.audit import append_event, verify_chain  # noqa: E402
from db.engine import make_engine, make_session_factory  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Contact, Holding, Locker, Pupil  # noqa: E402
from kiosk.audit_replay import record_baseline, unexplained  # noqa: E402

T0 = datetime(2020, 9, 1, 8, tzinfo=UTC)


def build(path: Path, n: int) -> int:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sessions = make_session_factory(engine)
    events = 0
    with sessions.begin() as s:
        s.add(Locker(bank="A", number=1, capacity=1))
        pupil = Pupil(mis_id="P", given_name="A", family_name="B", year_group="9")
        pupil.contacts.append(Contact(name="C", relationship_to_pupil="Mother", may_collect=True))
        s.add(pupil)
        s.flush()
        record_baseline(s, station_id="bench", now=T0)
        events += 1
        locker, contact = 1, pupil.contacts[0].id
        for i in range(n):
            when = T0 + timedelta(minutes=i)
            h = Holding(
                kind="confiscation",
                state="released",
                pupil_id=pupil.id,
                locker_id=locker,
                created_at=when,
                collector_kind="contact",
                collector_contact_id=contact,
            )
            s.add(h)
            s.flush()
            facts = {"pupil_id": pupil.id, "locker_id": locker}
            for state, extra in (
                ("depositing", {"kind": "confiscation"}),
                ("held", {}),
                ("releasing", {"collector_kind": "contact", "collector_contact_id": contact}),
                ("released", {}),
            ):
                append_event(
                    s,
                    station_id="bench",
                    type=f"holding.{state}",
                    occurred_at=when,
                    holding_id=h.id,
                    payload={**facts, "state": state, **extra},
                )
                events += 1
            if i % 2000 == 0:
                s.flush()
                s.expunge_all()
    engine.dispose()
    return events


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--holdings", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        events = build(path, args.holdings)
        sessions = make_session_factory(make_engine(f"sqlite:///{path}"))
        with sessions() as s:
            start = time.perf_counter()
            report = verify_chain(s)
            chain = time.perf_counter() - start
            rss_chain = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            start = time.perf_counter()
            rows = unexplained(s)
            replay = time.perf_counter() - start
            rss_replay = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert report.ok and not rows, (report.problem, rows[:3])
    print(f"{events} events, {args.holdings} holdings")
    figures = (("verify_chain ", chain, rss_chain), ("replay+tables", replay, rss_replay))
    for name, took, rss in figures:
        rate = events / took
        print(f"{name}: {took:6.2f} s  {rate:9.0f} events/s  peak RSS {rss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
