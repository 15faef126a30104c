"""The hot paths' queries on a school year of ledger, with and without 0006_indexes.

Run: .venv/bin/python bench/indexes.py [--year bench/.data/school_year]

For each query the custody use-cases run on every confiscation, release, pouch or locker
change: SQLite's plan (EXPLAIN QUERY PLAN) and its median time over many runs, on a copy of
the school year with the 0005 indexes, and in the same run on a copy with them dropped.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.school_year import DEFAULT_OUT, ensure

QUERIES = {
    "offence count (confiscate, release, pouch)": (
        "SELECT count(id) FROM holdings WHERE pupil_id = ? AND kind = 'confiscation' "
        "AND state != 'aborted' AND created_at >= '2025-09-01' AND created_at <= '2025-12-31'",
        (500,),
    ),
    "locker empty? (release, locker state)": (
        "SELECT count(id) FROM holdings WHERE locker_id = ? AND state IN "
        "('depositing', 'held', 'releasing', 'safeguarding_hold')",
        (3,),
    ),
    "exam register / hand-back": (
        "SELECT id FROM holdings WHERE exam_session_id = ? AND state = 'held' "
        "ORDER BY pouch_number",
        (1,),
    ),
    "open holdings list": (
        "SELECT id FROM holdings WHERE state IN ('depositing', 'held', 'releasing', "
        "'safeguarding_hold') ORDER BY id DESC",
        (),
    ),
    "pupil by card": ("SELECT id FROM pupils WHERE card_uid = ?", ("050001F4",)),
    "a holding's events": ("SELECT id FROM events WHERE holding_id = ?", (1234,)),
}
DROPPED = ("ix_holdings_pupil_id", "ix_holdings_exam_session_id", "ix_holdings_locker_id")


def measure(db: Path, runs: int) -> dict[str, tuple[str, float]]:
    conn = sqlite3.connect(db)
    out = {}
    for label, (sql, params) in QUERIES.items():
        plan = "; ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            conn.execute(sql, params).fetchall()
            times.append(time.perf_counter() - t0)
        out[label] = (plan, statistics.median(times) * 1e6)
    conn.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--year", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with_ix, without = Path(tmp) / "with.db", Path(tmp) / "without.db"
        shutil.copy(ensure(args.year) / "kiosk.db", with_ix)
        shutil.copy(with_ix, without)
        conn = sqlite3.connect(without)
        for name in DROPPED:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        conn.commit()
        conn.close()
        a, b = measure(with_ix, args.runs), measure(without, args.runs)
    for label in QUERIES:
        (plan_a, us_a), (plan_b, us_b) = a[label], b[label]
        print(f"{label}:")
        print(f"  with 0005   {us_a:9.1f} us  {plan_a}")
        print(f"  without     {us_b:9.1f} us  {plan_b}   ({us_b / us_a:.1f}x)")


if __name__ == "__main__":
    main()
