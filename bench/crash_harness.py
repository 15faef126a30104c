"""Crash harness: SIGKILL a real station process mid-work, restart it, check nothing was lost.

Why (issue 16): "a phone logged is a phone recorded whatever happens to the Pi" has to be
shown, not argued. Each cycle starts the station process (``bench/crash_station.py``: the
headless station on simulated hardware with a scripted member of staff) on one demo school,
drives confiscations (some into a jammed locker), releases, exam deposits, hand-backs, locker
repairs and the settling of flagged holdings, and kills it with SIGKILL:

* at a named crash point (``kiosk/crashpoints.py``: before/after the n-th commit, just after
  a lock pulse, after the tray photo is written / recorded), cycled through in a fixed order
  so a short run still passes every point; or
* at a random moment: straight after sending an intent (the kill lands wherever the station
  is) or just after its acknowledgement; which intent, from a seeded RNG.

On every restart, before anything else is sent, the harness reads the ledger itself and
checks: ``PRAGMA integrity_check``, the hash chain (:func:`db.audit.verify_chain`), every
action the station acknowledged is in the ledger, every holding left ``depositing`` /
``releasing`` is on the start-up reconciliation list (what the staff console shows after a
restart), every door that failed to open has its locker marked as a fault, and no lock was
pulsed from process start until the first intent (the simulator counts pulses).

``python bench/crash_harness.py --cycles 1000 --seed 1`` (CI runs 20 cycles through
``tests/reliability/test_crash_harness.py``). Prints a table; ``--json`` for machines.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import click

HERE = Path(__file__).resolve().parent
STATION = HERE / "crash_station.py"
CRASH_ENV = "KIOSK_TEST_CRASH_AT"
#: The demo school is seeded at a fixed moment (Tuesday 17 November 2026, noon in London).
SEEDED_AT = datetime(2026, 11, 17, 12, 0, tzinfo=UTC)
#: Failure bound for any one answer from the station (start-up, one intent).
ANSWER_TIMEOUT = 120.0
#: Intents per cycle before the harness kills the station itself.
MAX_INTENTS = 6
#: How many commits / pulses / photos into a process the named points are tried at.
COMMIT_DEPTH = 12
PULSE_DEPTH = 4
PHOTO_DEPTH = 2
#: Named cycles spent on one point before the schedule moves on without it.
RETRIES = 3


def crash_schedule() -> list[str]:
    """Every named point and depth, interleaved so the first few cycles try each name."""
    per_name = [
        [f"commit.before#{n}" for n in range(1, COMMIT_DEPTH + 1)],
        [f"commit.after#{n}" for n in range(1, COMMIT_DEPTH + 1)],
        [f"door.pulsed#{n}" for n in range(1, PULSE_DEPTH + 1)],
        [f"written#{n}" for n in range(1, PHOTO_DEPTH + 1)],
        [f"recorded#{n}" for n in range(1, PHOTO_DEPTH + 1)],
    ]
    order: list[str] = []
    for depth in range(COMMIT_DEPTH):
        order += [names[depth] for names in per_name if depth < len(names)]
    return order


def clock_start(cycle: int) -> datetime:
    """After the school day's end bell (releases allowed), a weekday, a minute per cycle."""
    day = SEEDED_AT.date()
    for _ in range(cycle // 100):
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 15, 30, tzinfo=UTC) + timedelta(
        minutes=cycle % 100
    )


@dataclass
class Tally:
    """The harness's figures."""

    cycles: int = 0
    acknowledged: int = 0
    lost: int = 0
    integrity_failures: int = 0
    chain_failures: int = 0
    half_done: int = 0
    half_done_unflagged: int = 0
    locks_driven_at_startup: int = 0
    photos_unrecorded: int = 0
    refused: int = 0
    killed_at: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(text)


# ----------------------------------------------------------------------------- the ledger
class Ledger:
    """Read-only look at the station's SQLite ledger (the harness trusts nothing it is told)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / "kiosk.db"

    def _rows(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return list(con.execute(sql, args))
        finally:
            con.close()

    def integrity_ok(self) -> bool:
        return self._rows("PRAGMA integrity_check") == [("ok",)]

    def chain_ok(self) -> tuple[bool, str]:
        """Verify the chain in one read transaction (one snapshot). The station is not idle
        after ``ready``: its door monitor may append an alarm for a door a kill left open,
        and without a snapshot the chain head and the events are read at different moments
        (pysqlite begins no transaction for SELECTs), a false "newest events deleted"."""
        from sqlalchemy import create_engine, event
        from sqlalchemy.orm import Session

        from db.audit import verify_chain

        engine = create_engine(f"sqlite:///file:{self.path}?mode=ro&uri=true")

        @event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _snapshot(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        try:
            with Session(engine) as s:
                report = verify_chain(s)
        finally:
            engine.dispose()
        return report.ok, str(report.problem)

    def facts(self) -> set[tuple[str, str]]:
        """What acknowledgements are checked against: (event type, holding) and more."""
        out: set[tuple[str, str]] = set()
        for type_, holding, payload in self._rows("SELECT type, holding_id, payload FROM events"):
            if holding is not None:
                out.add((str(type_), str(holding)))
            if type_ == "locker.state":
                p = json.loads(str(payload))
                out.add((f"locker.{p['state']}", str(p["locker"])))
        for (sid,) in self._rows("SELECT id FROM exam_sessions"):
            out.add(("exam_session", str(sid)))
        return out

    def half_way(self) -> set[int]:
        rows = self._rows("SELECT id FROM holdings WHERE state IN ('depositing', 'releasing')")
        return {int(str(r[0])) for r in rows}

    def jammed_unmarked(self) -> tuple[set[int], set[int]]:
        """Deposits aborted because the door did not open, and those whose locker has no
        fault mark after the abort (a locker that would be handed out again)."""
        aborts = self._rows(
            "SELECT e.id, e.holding_id, l.bank || l.number FROM events e "
            "JOIN holdings h ON h.id = e.holding_id JOIN lockers l ON l.id = h.locker_id "
            "WHERE e.type = 'holding.aborted' AND json_extract(e.payload, '$.why') LIKE 'locker %'"
        )
        marks: dict[str, list[int]] = {}
        for eid, payload in self._rows("SELECT id, payload FROM events WHERE type='locker.state'"):
            p = json.loads(str(payload))
            if p["state"] == "fault":
                marks.setdefault(str(p["locker"]), []).append(int(str(eid)))
        jammed, unmarked = set(), set()
        for eid, hid, label in aborts:
            jammed.add(int(str(hid)))
            if not any(m > int(str(eid)) for m in marks.get(str(label), [])):
                unmarked.add(int(str(hid)))
        return jammed, unmarked

    def photos_unrecorded(self) -> set[str]:
        """Final-named tray photos no holding records (a temporary ``.part-`` file is the
        purge's to delete, kiosk/photos.py on main)."""
        folder = self.data_dir / "photos"
        recorded = {
            Path(str(p)).name
            for (p,) in self._rows("SELECT photo_path FROM holdings WHERE photo_path IS NOT NULL")
        }
        files = {p.name for p in folder.iterdir()} if folder.exists() else set()
        return {f for f in files if ".part-" not in f and f not in recorded}

    def choices(self) -> dict[str, list[tuple[object, ...]]]:
        """What the scripted member of staff may do next."""
        q = self._rows
        return {
            "free": q("SELECT bank, number FROM lockers WHERE state='free' AND capacity=1"),
            "fault": q(
                "SELECT bank, number FROM lockers l WHERE state='fault' AND NOT EXISTS (SELECT 1 "
                "FROM holdings h WHERE h.locker_id=l.id AND h.state IN "
                "('depositing','held','releasing','safeguarding_hold'))"
            ),
            "pupils": q("SELECT id FROM pupils"),
            "held": q(
                "SELECT h.id, c.id FROM holdings h JOIN contacts c ON c.pupil_id = h.pupil_id "
                "WHERE h.state='held' AND h.exam_session_id IS NULL "
                "AND c.parental_responsibility=1 AND c.may_collect=1 ORDER BY c.priority"
            ),
            "sessions": q("SELECT id, state, candidates FROM exam_sessions ORDER BY id"),
            "pouches": q(
                "SELECT exam_session_id, pupil_id FROM holdings WHERE exam_session_id IS NOT NULL"
                " AND state IN ('depositing','held','releasing')"
            ),
        }


# ----------------------------------------------------------------------------- the process
class Station:
    """One station process and its output lines."""

    def __init__(self, config: Path, cycle: int, crash_at: str | None) -> None:
        env = {**os.environ}
        env.pop(CRASH_ENV, None)
        if crash_at:
            env[CRASH_ENV] = crash_at
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(STATION),
                "--config",
                str(config),
                "--clock-start",
                clock_start(cycle).isoformat(),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=HERE.parent,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()
        threading.Thread(
            target=lambda s: self.stderr.extend(s), args=(self.proc.stderr,), daemon=True
        ).start()
        self.killed_by_us = False

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output: the process is gone

    def answer(self, prefixes: tuple[str, ...]) -> str | None:
        """The next line starting with one of ``prefixes``; None once the process died."""
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise RuntimeError(
                    f"station gave no {prefixes} within {ANSWER_TIMEOUT} s; "
                    f"stderr: {''.join(self.stderr)[-2000:]}"
                )
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                return None
            if line.startswith(prefixes):
                return line

    def send(self, line: str) -> bool:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.killed_by_us = True
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=ANSWER_TIMEOUT)

    def stop(self) -> int:
        """Close stdin: the station stops cleanly."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=ANSWER_TIMEOUT)


def expected(ack: dict[str, object]) -> list[tuple[str, str]]:
    """The ledger facts an acknowledgement promises."""
    op, outcome = ack["op"], ack.get("outcome")
    if op == "confiscate":
        if outcome == "opened":
            return [("holding.held", str(ack["holding"]))]
        return [("holding.aborted", str(ack["holding"])), ("locker.fault", str(ack["locker"]))]
    if op == "release":
        state = "holding.released" if outcome == "opened" else "holding.held"
        return [(state, str(ack["holding"]))]
    if op == "exam-deposit":
        return [("holding.held" if outcome == "opened" else "holding.aborted", str(ack["holding"]))]
    if op == "hand-back":
        state = "holding.released" if outcome == "opened" else "holding.held"
        return [(state, str(h)) for h in ack["holdings"]]  # type: ignore[attr-defined]
    if op == "repair":
        return [("locker.free", str(ack["locker"]))]
    if op == "settle":
        return [(f"holding.{ack['state']}", str(ack["holding"]))]
    if op == "exam-open":
        return [("exam_session", str(ack["session"]))]
    raise ValueError(f"unknown acknowledgement {ack}")


class Harness:
    """Cycles of start, check, drive, kill."""

    def __init__(self, data_dir: Path, seed: int) -> None:
        self.ledger = Ledger(data_dir)
        self.config = data_dir / "kiosk.toml"
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.promised: list[tuple[str, str]] = []
        self.half_seen: set[int] = set()
        self.unflagged_seen: set[int] = set()
        self.photos_seen: set[str] = set()

    # -------------------------------------------------------------- after a restart
    def check_pulses(self, line: str) -> None:
        """``ready pulses=N`` / ``first pulses=N``: no lock pulsed before the first intent."""
        pulses = int(line.split("pulses=", 1)[1].split()[0])
        if pulses:
            self.tally.locks_driven_at_startup += 1
            self.tally.problem(f"{pulses} lock pulse(s) before the first intent ({line})")

    def check_restart(self, ready: str) -> None:
        """Everything the station must show the moment it is back, read while it is idle
        (between ``ready`` and the first intent: every check sees one committed state)."""
        t = self.tally
        fields = dict(part.split("=", 1) for part in ready.split()[1:])
        flagged = {int(x) for x in fields.get("reconcile", "").split(",") if x}
        self.check_pulses(ready)
        if not self.ledger.integrity_ok():
            t.integrity_failures += 1
            t.problem("PRAGMA integrity_check failed")
        ok, why = self.ledger.chain_ok()
        if not ok:
            t.chain_failures += 1
            t.problem(f"chain: {why}")
        facts = self.ledger.facts()
        missing = [p for p in self.promised if p not in facts]
        if missing:
            t.problem(f"acknowledged but missing: {missing[:5]}")
        t.lost = max(t.lost, len(missing))
        half = self.ledger.half_way()
        self.half_seen |= half
        for hid in half - flagged:
            self.unflagged_seen.add(hid)
            t.problem(f"holding {hid} is half-way and start-up did not flag it")
        _, unmarked = self.ledger.jammed_unmarked()
        for hid in unmarked - self.unflagged_seen:
            self.unflagged_seen.add(hid)
            t.problem(f"holding {hid}: its locker did not open and is not marked as a fault")
        self.half_seen |= unmarked
        self.photos_seen |= self.ledger.photos_unrecorded()
        t.half_done = len(self.half_seen)
        t.half_done_unflagged = len(self.unflagged_seen)
        t.photos_unrecorded = len(self.photos_seen)

    # -------------------------------------------------------------- the member of staff
    def next_intent(self) -> str:
        rng = self.rng
        half = sorted(self.ledger.half_way())
        if half:
            return f"settle {half[0]}"
        c = self.ledger.choices()
        options: list[str] = []
        if c["fault"]:
            bank, number = rng.choice(c["fault"])
            options.append(f"repair {bank} {number}")
        if c["free"]:
            pupil = rng.choice(c["pupils"])[0]
            jam = 1 if rng.random() < 0.25 else 0
            options += [f"confiscate {pupil} {jam}"] * 2
        if c["held"]:
            hid, contact = rng.choice(c["held"])
            options += [f"release {hid} {contact}"] * (1 if c["free"] else 3)
        open_sessions = [s for s in c["sessions"] if s[1] == "open"]
        if open_sessions:
            sid, _, candidates = open_sessions[-1]
            done = {p for s, p in c["pouches"] if s == sid}
            waiting = [p for p in json.loads(str(candidates) or "[]") if p not in done]
            if waiting:
                options += [f"exam-deposit {sid} {rng.choice(waiting)}"] * 2
            else:
                options.append(f"hand-back {sid}")
        else:
            pending = [s[0] for s in c["sessions"] if any(p[0] == s[0] for p in c["pouches"])]
            if pending:
                options.append(f"hand-back {pending[-1]}")
            else:
                pupils = rng.sample([p[0] for p in c["pupils"]], 3)
                options.append("exam-open " + ",".join(str(p) for p in pupils))
        return rng.choice(options)

    # -------------------------------------------------------------- one cycle
    def cycle(self, n: int, crash_at: str | None) -> str:
        """One station life: start, check the restart, run intents, be killed. Returns where
        the kill landed (the ``killed_at`` key)."""
        t = self.tally
        rng = self.rng
        kill_after = rng.randrange(MAX_INTENTS)
        kill_mid = rng.random() < 0.5
        station = Station(self.config, n, crash_at)
        ready = station.answer(("ready",))
        if ready is None:  # killed itself during start-up
            how = f"{crash_at.split('#')[0]} (start-up)" if crash_at else "start-up"
            t.killed_at[how] += 1
            station.kill()
            return how
        self.check_restart(ready)
        for i in range(MAX_INTENTS):
            intent = self.next_intent()
            if not station.send(intent):
                break
            if i == 0:
                first = station.answer(("first",))
                if first is None:
                    break
                self.check_pulses(first)
            if crash_at is None and i == kill_after and kill_mid:
                station.kill()
                break
            reply = station.answer(("ack", "refused"))
            if reply is None:
                break
            if reply.startswith("ack"):
                t.acknowledged += 1
                self.promised += expected(json.loads(reply[4:]))
            else:
                t.refused += 1
            if crash_at is None and i == kill_after:
                station.kill()
                break
        how = "random" if crash_at is None else crash_at.split("#")[0]
        if station.proc.poll() is None:
            how = "random (end of script)" if crash_at else how
            station.kill()
        elif not station.killed_by_us and station.proc.returncode != -signal.SIGKILL:
            t.problem(f"station exited {station.proc.returncode}: {''.join(station.stderr)[-500:]}")
        t.killed_at[how] += 1
        return how

    def run(self, cycles: int) -> Tally:
        schedule = crash_schedule()
        # Whether a life reaches a named point depends on what the random kills before it left
        # (a refused action pulses no door): a point not reached is tried again in the next
        # named cycle, up to RETRIES times, so a short run still lands on every early point.
        at, tries = 0, 0
        for n in range(cycles):
            crash_at = schedule[at % len(schedule)] if n % 2 == 0 else None
            how = self.cycle(n, crash_at)
            self.tally.cycles += 1
            if crash_at is None:
                continue
            tries += 1
            if how.split(" ")[0] == crash_at.split("#")[0] or tries >= RETRIES:
                at, tries = at + 1, 0
        # The last restart: checked, then a clean stop.
        station = Station(self.config, cycles, None)
        ready = station.answer(("ready",))
        if ready is None:
            raise RuntimeError(f"station did not start: {''.join(station.stderr)[-2000:]}")
        self.check_restart(ready)
        code = station.stop()
        if code != 0:
            self.tally.problem(f"final clean stop exited {code}")
        return self.tally


def seed_school(data_dir: Path) -> None:
    """The demo school, seeded at a fixed moment (so every run starts the same)."""
    from kiosk.demo import seed_demo

    seed_demo(data_dir, now=SEEDED_AT).close()


def table(t: Tally) -> str:
    rows = [
        ("cycles (SIGKILLs)", t.cycles),
        ("acknowledged actions", t.acknowledged),
        ("lost", t.lost),
        ("integrity failures", t.integrity_failures),
        ("chain failures", t.chain_failures),
        ("half-done", t.half_done),
        ("half-done unflagged", t.half_done_unflagged),
        ("locks driven at start-up", t.locks_driven_at_startup),
        ("tray photos unrecorded", t.photos_unrecorded),
        ("refused by policy (not acknowledged)", t.refused),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{name:<{width}}  {value:>6}" for name, value in rows]
    lines.append("killed at: " + ", ".join(f"{k} {v}" for k, v in sorted(t.killed_at.items())))
    return "\n".join(lines)


def run_harness(cycles: int, seed: int, data_dir: Path | None = None) -> Tally:
    with tempfile.TemporaryDirectory(prefix="kiosk-crash-") as tmp:
        folder = data_dir or Path(tmp) / "school"
        seed_school(folder)
        return Harness(folder, seed).run(cycles)


@click.command()
@click.option("--cycles", default=20, show_default=True, help="Kill-and-restart cycles.")
@click.option("--seed", default=1, show_default=True, help="Seed of the random kills/intents.")
@click.option(
    "--dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the school here (must not exist) to look at it afterwards.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def main(cycles: int, seed: int, data_dir: Path | None, as_json: bool) -> None:
    """SIGKILL a station process CYCLES times and check every restart (see module doc)."""
    started = time.monotonic()
    tally = run_harness(cycles, seed, data_dir)
    if as_json:
        click.echo(json.dumps({**asdict(tally), "killed_at": dict(tally.killed_at)}))
    else:
        click.echo(table(tally))
        click.echo(f"({time.monotonic() - started:.0f} s, seed {seed})")
        for p in tally.problems:
            click.echo(f"problem: {p}")
    bad = (
        tally.lost
        + tally.integrity_failures
        + tally.chain_failures
        + tally.half_done_unflagged
        + tally.locks_driven_at_startup
    )
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
