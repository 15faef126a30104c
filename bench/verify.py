"""`audit verify` speed and memory at 10k, 100k and 1M events, beside its floor.

Run: .venv/bin/python bench/verify.py [--sizes 10000 100000 1000000]

For each size a ledger with one valid chain is built once (cached in bench/.data/) and two
fresh child processes are measured, so peak RSS is each one's own (``ru_maxrss`` of the
child from ``os.wait4``):

- ``verify``: :func:`db.audit.verify_chain` through a read session, as ``kiosk audit verify``
  (the serial walk), and again with ``workers=None`` (digests in worker processes, one per
  CPU, from 50,000 events of a station; its CPU figure includes the workers');
- ``floor``: the same rows read with the bare ``sqlite3`` module and hashed with the same
  :func:`wire.chain.event_digest` (JSON parsed, times formatted), with no SQLAlchemy: what
  verification costs at best in Python.

Each child also reports its RSS before verifying (imports and engine open), so the growth
(peak - before) shows whether memory is flat in the ledger's size. Goals (issue 15):
>= 50,000 events/s, memory flat from 10k to 1M events.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(__file__).parent / ".data"
T0 = datetime(2020, 9, 1, 8, tzinfo=UTC)
TYPES = ("holding.depositing", "incident.recorded", "holding.held", "holding.releasing")


def build(path: Path, n: int) -> None:
    """A valid single-station chain of ``n`` events with realistic payloads (Core inserts)."""
    from sqlalchemy import insert

    from db.engine import make_engine, make_session_factory
    from db.migrate import upgrade
    from db.models import ChainHead, Event
    from wire.chain import GENESIS_HASH, event_digest

    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{tmp}")
    upgrade(engine)
    sessions = make_session_factory(engine)
    prev, batch = GENESIS_HASH, []
    for seq in range(1, n + 1):
        when = T0 + timedelta(seconds=7 * seq)
        kind = TYPES[seq % len(TYPES)]
        payload = {
            "previous": "depositing",
            "locker": f"Y{seq % 120}",
            "category": "unauthorised_use",
            "offence_number": seq % 4,
            "follow_ups": ["inform_parent"],
        }
        row: dict[str, Any] = {
            "station_id": "office-1",
            "seq": seq,
            "type": kind,
            "occurred_at": when,
            "actor_id": seq % 60,
            "holding_id": seq // 5,
            "payload": payload,
            "prev_hash": prev,
        }
        row["hash"] = prev = event_digest(**row)
        batch.append(row)
        if len(batch) == 50_000 or seq == n:
            with sessions.begin() as s:
                s.execute(insert(Event), batch)
            batch = []
    with sessions.begin() as s:
        s.add(ChainHead(station_id="office-1", seq=n, hash=prev))
    engine.dispose()
    tmp.with_name(tmp.name + "-wal").unlink(missing_ok=True)
    tmp.with_name(tmp.name + "-shm").unlink(missing_ok=True)
    tmp.rename(path)


def _status_kb(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process; the peak starts afresh at exec, unlike
    ``ru_maxrss``, which would count the parent's memory the child was forked with."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _cpu_with_children() -> float:
    """CPU seconds of this process and of its finished children (verify's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def child(mode: str, path: Path) -> None:
    """Runs in the child process: verify (or the floor) once, print JSON."""
    if mode.startswith("verify"):
        workers = None if mode == "verify-auto" else 1
        from db.audit import verify_chain
        from db.engine import make_engine, make_read_session_factory

        engine = make_engine(f"sqlite:///{path}")
        reads = make_read_session_factory(engine)
        with reads() as s:  # open the connection before the baseline
            s.connection()
        before = _status_kb("VmRSS")
        t0, c0 = time.perf_counter(), _cpu_with_children()
        with reads() as s:
            report = verify_chain(s, workers=workers)
        elapsed, cpu = time.perf_counter() - t0, _cpu_with_children() - c0
        checked, ok = report.events_checked, report.ok
    else:
        import sqlite3

        from wire.chain import event_digest

        conn = sqlite3.connect(path)
        conn.execute("SELECT 1").fetchall()
        before = _status_kb("VmRSS")
        t0, c0 = time.perf_counter(), time.process_time()
        prev, checked, ok = "0" * 64, 0, True
        cur = conn.execute(
            "SELECT seq, type, occurred_at, actor_id, holding_id, payload, prev_hash, hash "
            "FROM events WHERE station_id = 'office-1' ORDER BY id"
        )
        for seq, kind, when, actor, holding, payload, prev_hash, digest in cur:
            moment = datetime.fromisoformat(when).replace(tzinfo=UTC)
            body = json.loads(payload)
            ok = ok and prev_hash == prev
            ok = ok and digest == event_digest(
                station_id="office-1",
                seq=seq,
                type=kind,
                occurred_at=moment,
                actor_id=actor,
                holding_id=holding,
                payload=body,
                prev_hash=prev_hash,
            )
            prev, checked = digest, checked + 1
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _status_kb("VmHWM")
    print(
        json.dumps(
            {
                "checked": checked,
                "ok": ok,
                "s": elapsed,
                "cpu": cpu,
                "before_kb": before,
                "peak_kb": peak,
            }
        )
    )


def measure(mode: str, path: Path) -> dict[str, float]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, str(path)], stdout=subprocess.PIPE, cwd=ROOT
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    if proc.wait() != 0:
        raise SystemExit(f"{mode} child failed ({proc.returncode})")
    return dict(json.loads(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    DATA.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()}")
    rows = []
    for n in args.sizes:
        path = DATA / f"verify_{n}.db"
        if not path.exists():
            t0 = time.perf_counter()
            build(path, n)
            print(f"built {n} events in {time.perf_counter() - t0:.0f} s ({path})", flush=True)
        v, f = measure("verify", path), measure("floor", path)
        auto = measure("verify-auto", path)
        assert v["ok"] and f["ok"] and auto["ok"] and v["checked"] == n == f["checked"]
        rows.append((n, v, f))
        print(
            f"{n:>9} events: verify, workers=None (one per CPU from 50k) "
            f"{n / auto['s']:8.0f} events/s wall, {n / auto['cpu']:8.0f}/CPU-s",
            flush=True,
        )
        vr, fr = n / v["s"], n / f["s"]
        vc, fc = n / v["cpu"], n / f["cpu"]
        met = "met" if vr >= 50_000 else "NOT met"
        print(
            f"{n:>9} events: verify {vr:8.0f} events/s wall, {vc:8.0f}/CPU-s; "
            f"floor {fr:8.0f} wall, {fc:8.0f}/CPU-s (verify/floor {vr / fr:.2f}); "
            f"goal >= 50,000/s wall: {met}",
            flush=True,
        )
        print(
            f"{'':>17} peak RSS verify {v['peak_kb'] / 1024:6.1f} MB "
            f"(+{(v['peak_kb'] - v['before_kb']) / 1024:5.1f} MB while verifying), "
            f"floor {f['peak_kb'] / 1024:6.1f} MB "
            f"(+{(f['peak_kb'] - f['before_kb']) / 1024:5.1f} MB)",
            flush=True,
        )
    if len(rows) > 1:
        (n0, v0, _), (n1, v1, _) = rows[0], rows[-1]
        g0, g1 = v0["peak_kb"] - v0["before_kb"], v1["peak_kb"] - v1["before_kb"]
        print(
            f"memory growth while verifying, {n1 // n0}x the events: {g0 / 1024:.1f} MB -> "
            f"{g1 / 1024:.1f} MB (ratio {g1 / max(g0, 1):.2f}); peak RSS ratio "
            f"{v1['peak_kb'] / v0['peak_kb']:.2f}"
        )


if __name__ == "__main__":
    main()
