"""Exam rush: CPU per candidate through the UI's path and the use-case (API) path, in turn.

Run: .venv/bin/python bench/exam_rush.py [--candidates 300] [--year bench/.data/school_year]
     [--hand-back-sizes 100]

On a copy of the school year, two exam sessions of N candidates each (two cabinets of N
pouches) take their candidates' deposits in turn, candidate by candidate, so both paths see
the same ledger and the same machine load:

- the **UI path** calls what the self-service screen calls (tui/screens/exam.py
  ``ExamDepositScreen.card_tapped``): ``exam_deposit_by_card`` where the tree has it, else
  (older trees) ``pupil_by_card`` -> ``exam_deposit`` -> ``candidate_number``; then the door
  closes (``confirm_deposit``, what ``Station.deposit`` calls). The screen shows only that
  candidate's pouch (no register: issue 9); the officer's register is loaded once when they
  come back, and that load is shared over the N candidates;
- the **API path** (the peer) calls the public use-cases a client would: ``pupil_by_card``
  -> ``exam_deposit`` -> ``confirm_deposit``.

The old screen reloaded the whole register after each candidate: that is measured too (every
10th candidate) as "old UI". The UI's own code (Textual widgets) is not run here; this
isolates the ledger work it asks for. Goal: <= 5 ms of CPU per candidate (issue 15).

Then the bulk hand-back (``begin_exam_session_release`` + ``complete_exam_session_release``)
of the UI session's N pouches, and of sessions of each ``--hand-back-sizes`` pouches on the
same cabinet: CPU per pouch should not grow with N (issue 15: bulk hand-back O(n)).
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
    ap.add_argument(
        "--hand-back-sizes",
        default="100",
        help="comma-separated pouch counts of extra hand-backs timed beside the N of the rush",
    )
    args = ap.parse_args()
    n = args.candidates
    sizes = [int(x) for x in args.hand_back_sizes.split(",") if x.strip()]
    args.year.parent.mkdir(parents=True, exist_ok=True)
    year = ensure(args.year)
    with tempfile.TemporaryDirectory(dir=args.year.parent) as tmp:
        folder = Path(tmp) / "year"
        shutil.copytree(year, folder)
        raw = sqlite3.connect(folder / "kiosk.db")  # the exam hall's cabinets (hardware config)
        for number in (1, 2):
            raw.execute(
                "INSERT INTO lockers (bank, number, capacity, state) VALUES ('X', ?, ?, 'free')",
                (number, max([n, *sizes])),
            )
        raw.commit()
        raw.close()
        clock = [datetime(2026, 5, 18, 8, 30, tzinfo=UTC)]
        ctx = open_context(demo_config(folder), clock=lambda: clock[0])
        c = ctx.custody
        exams = c.sign_in(*DEMO_BADGES["exams"])  # a real sign-in (issue 9)
        with ctx.sessions() as s:
            cabinets = list(s.scalars(select(Locker.id).where(Locker.bank == "X")))
            pupils = list(
                s.execute(
                    select(Pupil.id, Pupil.card_uid)
                    .where(Pupil.card_uid.is_not(None))
                    .order_by(Pupil.id)
                    .limit(2 * n)
                )
            )
        if len(pupils) < 2 * n:
            raise SystemExit(f"the school year has {len(pupils)} carded pupils; need {2 * n}")

        def session(cabinet: int, candidates: list[Any], name: str) -> int:
            now = clock[0]
            return c.open_exam_session(
                exams,
                name=name,
                starts_at=now + timedelta(minutes=30),
                ends_at=now + timedelta(hours=2),
                locker_id=cabinet,
                candidate_ids=[p for p, _ in candidates],
            )

        ui_sid = session(cabinets[0], pupils[:n], "GCSE Maths Paper 1")
        api_sid = session(cabinets[1], pupils[n:], "GCSE Maths Paper 1 (API)")
        by_card = getattr(c, "exam_deposit_by_card", None)
        # The officer's once-a-session "phones are switched off" (issue 14), where the tree
        # asks for it (phones.switched_off_not_silent).
        off: dict[str, Any] = (
            {"switched_off_confirmed_by": exams.staff_id}
            if "switched_off_confirmed_by" in inspect.signature(c.exam_deposit).parameters
            else {}
        )

        def ui(uid: str) -> None:  # what tui/screens/exam.py asks per candidate
            if by_card is not None:
                done = by_card(None, session_id=ui_sid, card_uid=uid, **off)
                assert done is not None
                h = done.holding
            else:
                pupil = c.pupil_by_card(None, uid)
                assert pupil is not None
                h = c.exam_deposit(None, session_id=ui_sid, pupil_id=pupil.id, **off)
                c.candidate_number(pupil.id)
            c.confirm_deposit(None, h.id)

        def api(uid: str) -> None:  # the public use-cases, one by one
            pupil = c.pupil_by_card(None, uid)
            assert pupil is not None
            h = c.exam_deposit(None, session_id=api_sid, pupil_id=pupil.id, **off)
            c.confirm_deposit(None, h.id)

        def cpu_ms(step: Callable[[str], None], uid: str) -> float:
            c0 = time.process_time()
            step(uid)
            return (time.process_time() - c0) * 1000

        ui_ms, api_ms, reload_ms = [], [], []
        for i in range(n):
            ui_uid, api_uid = str(pupils[i][1]), str(pupils[n + i][1])
            if i % 2:  # alternate which path goes first
                api_ms.append(cpu_ms(api, api_uid))
                ui_ms.append(cpu_ms(ui, ui_uid))
            else:
                ui_ms.append(cpu_ms(ui, ui_uid))
                api_ms.append(cpu_ms(api, api_uid))
            if i % 10 == 9:
                c0 = time.process_time()
                c.exam_register(exams, ui_sid)  # the old screen's reload after every door
                reload_ms.append((time.process_time() - c0) * 1000)
        c0 = time.process_time()
        register = c.exam_register(exams, ui_sid)  # the officer's screen, once, on return
        load_ms = (time.process_time() - c0) * 1000
        assert len(register) == n and all(h is not None for _, h in register)
        ui_total = [u + load_ms / n for u in ui_ms]

        def hand_back(sid: int) -> tuple[int, float, float]:
            """(pouches, CPU s of begin, CPU s of complete) of one session's hand-back."""
            clock[0] += timedelta(hours=3)  # the exam has ended
            c0 = time.process_time()
            pouches = c.begin_exam_session_release(exams, sid)
            c1 = time.process_time()
            c.complete_exam_session_release(exams, sid)
            return len(pouches), c1 - c0, time.process_time() - c1

        backs = [hand_back(ui_sid)]
        for size in sizes:
            sid = session(cabinets[0], pupils[:size], f"Hand-back of {size}")
            for _pid, uid in pupils[:size]:
                pupil = c.pupil_by_card(None, str(uid))
                assert pupil is not None
                h = c.exam_deposit(None, session_id=sid, pupil_id=pupil.id, **off)
                c.confirm_deposit(None, h.id)
            backs.append(hand_back(sid))
        ctx.close()
    tenth = max(1, n // 10)
    api_mean, ui_mean = statistics.mean(api_ms), statistics.mean(ui_total)

    def tenths(xs: list[float]) -> str:
        early, late = statistics.mean(xs[:tenth]), statistics.mean(xs[-tenth:])
        return f"first tenth {early:6.2f}  last tenth {late:6.2f}"

    print(f"exam session of {n} candidates on the school year (CPU ms per candidate):")
    print(f"  API path (use-cases)     mean {api_mean:6.2f}  {tenths(api_ms)}")
    print(
        f"  UI path (+ one register) mean {ui_mean:6.2f}  {tenths(ui_total)}   "
        f"ratio UI/API {ui_mean / api_mean:.2f}x; "
        f"goal <= 5 ms: {'met' if ui_mean <= 5 else 'NOT met'}"
    )
    old = statistics.mean(ui_ms) + (statistics.mean(reload_ms) if reload_ms else 0.0)
    print(
        f"  old UI (reload per door) mean {old:6.2f}  (register load {load_ms:.2f} ms at "
        f"{n}; the old screen paid it after every candidate)"
    )
    base = backs[0][1] + backs[0][2]
    for count, begin, complete in backs:
        each = (begin + complete) / max(count, 1) * 1000
        print(
            f"  bulk hand-back of {count:4d} pouches: {begin + complete:.3f} s CPU (begin "
            f"{begin:.3f}, door closed {complete:.3f}); {each:.2f} ms CPU each; total vs "
            f"{backs[0][0]}: {(begin + complete) / base:.2f}x for {count / backs[0][0]:.2f}x "
            "pouches"
        )


if __name__ == "__main__":
    main()
