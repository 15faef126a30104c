"""Exam rush: CPU per candidate through the use-case beside the UI's register reload.

Run: .venv/bin/python bench/exam_rush.py [--candidates 300] [--year bench/.data/school_year]

On a copy of the school year, an exam session of N candidates (one cabinet with N pouches)
takes every candidate's deposit the way the self-service screen does (tui/screens/exam.py):
``pupil_by_card`` -> ``exam_deposit`` -> the door closes (``confirm_deposit``). The screen
shows only that candidate's pouch (no register: issue 9), so the UI asks nothing more per
candidate; the officer's register is loaded once (one IN query) when they come back, and that
load is measured and shared over the N candidates. The old screen reloaded the whole register
after each candidate: that path is measured too (every 10th candidate, to keep the run short)
as the "before" beside it. The UI's own code (Textual widgets) is not run here; this isolates
the ledger work it asks for. Figures: CPU ms per candidate for the use-case path alone (the
API path, the peer), the UI path, and the old reload. Goal: <= 5 ms of CPU per candidate.
Then the bulk hand-back of all N pouches (``begin_exam_session_release``).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bench.school_year import DEFAULT_OUT, ensure
from db.models import Locker, Pupil
from kiosk.context import open_context
from kiosk.demo import DEMO_BADGES, demo_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--candidates", type=int, default=300)
    ap.add_argument("--year", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    n = args.candidates
    with tempfile.TemporaryDirectory(dir=args.year.parent) as tmp:
        folder = Path(tmp) / "year"
        shutil.copytree(ensure(args.year), folder)
        raw = sqlite3.connect(folder / "kiosk.db")  # the exam hall's cabinet (hardware config)
        raw.execute(
            "INSERT INTO lockers (bank, number, capacity, state) VALUES ('X', 1, ?, 'free')", (n,)
        )
        raw.commit()
        raw.close()
        now = datetime(2026, 5, 18, 8, 30, tzinfo=UTC)
        ctx = open_context(demo_config(folder), clock=lambda: now)
        c = ctx.custody
        exams = c.sign_in(*DEMO_BADGES["exams"])  # a real sign-in (issue 9)
        with ctx.sessions() as s:
            cabinet = s.scalars(select(Locker.id).where(Locker.bank == "X")).one()
            pupils = list(
                s.execute(
                    select(Pupil.id, Pupil.card_uid)
                    .where(Pupil.card_uid.is_not(None))
                    .order_by(Pupil.id)
                    .limit(n)
                )
            )
        sid = c.open_exam_session(
            exams,
            name="GCSE Maths Paper 1",
            starts_at=now + timedelta(minutes=30),
            ends_at=now + timedelta(hours=2),
            locker_id=cabinet,
            candidate_ids=[p for p, _ in pupils],
        )
        api_ms, reload_ms = [], []
        for i, (_pid, uid) in enumerate(pupils):
            c0 = time.process_time()
            pupil = c.pupil_by_card(None, str(uid))
            assert pupil is not None
            h = c.exam_deposit(
                None, session_id=sid, pupil_id=pupil.id, switched_off_confirmed_by=exams.staff_id
            )
            c.confirm_deposit(None, h.id)
            c1 = time.process_time()
            api_ms.append((c1 - c0) * 1000)
            if i % 10 == 9:
                c.exam_register(exams, sid)  # the old screen's reload after every door
                reload_ms.append((time.process_time() - c1) * 1000)
        c0 = time.process_time()
        register = c.exam_register(exams, sid)  # the officer's screen, once, on return
        load_ms = (time.process_time() - c0) * 1000
        assert len(register) == n
        ui_ms = [a + load_ms / n for a in api_ms]
        t0, c0 = time.perf_counter(), time.process_time()
        now = now + timedelta(hours=3)
        pouches = c.begin_exam_session_release(exams, sid)
        hand_back = (time.perf_counter() - t0, time.process_time() - c0)
        ctx.close()
    tenth = max(1, n // 10)
    api, ui = statistics.mean(api_ms), statistics.mean(ui_ms)
    first, last = statistics.mean(api_ms[:tenth]), statistics.mean(api_ms[-tenth:])
    print(f"exam session of {n} candidates on the school year (CPU ms per candidate):")
    print(
        f"  use-case path (API)      mean {api:6.2f}  first tenth {first:6.2f}  "
        f"last tenth {last:6.2f}"
    )
    print(
        f"  UI path (+ one register) mean {ui:6.2f}  first tenth "
        f"{statistics.mean(ui_ms[:tenth]):6.2f}  last tenth {statistics.mean(ui_ms[-tenth:]):6.2f}"
        f"   ratio UI/API {ui / api:.2f}x; goal <= 5 ms: {'met' if ui <= 5 else 'NOT met'}"
    )
    old = api + (statistics.mean(reload_ms) if reload_ms else 0.0)
    print(
        f"  old UI (reload per door) mean {old:6.2f}  (register load {load_ms:.2f} ms at "
        f"{n}; the old screen paid it after every candidate)"
    )
    print(
        f"  bulk hand-back of {len(pouches)} pouches: {hand_back[0]:.2f} s wall, "
        f"{hand_back[1]:.2f} s CPU ({hand_back[1] / max(len(pouches), 1) * 1000:.2f} ms CPU each)"
    )


if __name__ == "__main__":
    main()
