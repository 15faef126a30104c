"""Sync drain benchmark: a queue of N events drained from a kiosk to the central log.

The central log is the real service (``kiosk-central serve``, its own process) on
PostgreSQL; the kiosk's ledger is SQLite, as on the Pi, with N events queued in the outbox
(10,000: a busy fortnight; 50,000: a week offline for a whole trust's busiest kiosk). The
relay drains it in batches of ``wire.MAX_BATCH``; then, in the same run, the same relay
sends a sample of a second station's queue one request per event, the peer that batching
is measured against. Prints events/s for both and their ratio beside the goals (>= 5,000
events/s batched, >= 20x per-event). Nothing is asserted; figures are measured here.

Also prints, for the batched drain, where each batch's time goes: wall time per batch, and
the CPU each side used per batch (the kiosk's relay process, all threads; the central log's
service process; the PostgreSQL backends serving it, read from ``/proc``, so give the bench
a database of its own), and the part of the wall time spent waiting for the central log.

Run: .venv/bin/python bench/sync_drain.py [N ...]   (default: 10000 50000)
PostgreSQL: $KIOSK_TEST_POSTGRES (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
the central log gets a fresh schema there, dropped afterwards.
"""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy import create_engine, insert, text

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import ChainHead, Event, Locker, OutboxRow, Pupil, Staff
from kiosk.sync.client import CentralClient, Refusal, RetryPolicy
from kiosk.sync.relay import Relay
from wire import GENESIS_HASH, MAX_BATCH, IngestAccepted, IngestBatch, event_digest

PG = os.environ.get("KIOSK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CENTRAL = str(Path(sys.executable).parent / "kiosk-central")
PER_EVENT_SAMPLE = 300
GOAL_RATE, GOAL_RATIO = 5_000, 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed_ledger(path: Path, station: str, n: int) -> Relay | None:
    """A kiosk ledger with ``n`` chained events in its outbox (bulk-inserted, hashed as the
    kiosk hashes them) and the pupils, staff and lockers they refer to."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    t0 = datetime(2026, 9, 1, 8, tzinfo=UTC)
    with make_session_factory(engine).begin() as s:
        s.execute(
            insert(Pupil),
            [
                dict(
                    id=i,
                    mis_id=f"M{i:05}",
                    given_name=f"Pupil{i}",
                    family_name="Bench",
                    year_group=f"Y{7 + i % 5}",
                    exemptions=[],
                )
                for i in range(1, 201)
            ],
        )
        s.execute(
            insert(Staff),
            [
                dict(id=i, staff_code=f"S{i}", name=f"Staff {i}", roles=["office"])
                for i in range(1, 21)
            ],
        )
        s.execute(insert(Locker), [dict(id=i, bank="A", number=i) for i in range(1, 13)])
        prev, events, outbox = GENESIS_HASH, [], []
        for seq in range(1, n + 1):
            when = t0 + timedelta(seconds=seq * 7)
            payload = {"pupil_id": 1 + seq % 200, "locker_id": 1 + seq % 12, "kind": "bench"}
            digest = event_digest(
                station_id=station,
                seq=seq,
                type="holding.held",
                occurred_at=when,
                actor_id=1 + seq % 20,
                holding_id=None,
                payload=payload,
                prev_hash=prev,
            )
            events.append(
                dict(
                    id=seq,
                    station_id=station,
                    seq=seq,
                    type="holding.held",
                    occurred_at=when,
                    actor_id=1 + seq % 20,
                    holding_id=None,
                    payload=payload,
                    prev_hash=prev,
                    hash=digest,
                )
            )
            outbox.append(dict(id=seq, event_id=seq, created_at=when, attempts=0))
            prev = digest
        s.execute(insert(Event), events)
        s.execute(insert(OutboxRow), outbox)
        s.add(ChainHead(station_id=station, seq=n, hash=prev))
    engine.dispose()
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used, all its threads (Linux ``/proc``); 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pg_backends(db_url: str) -> list[int]:
    """PostgreSQL server processes serving the bench's database, but this query's own."""
    engine = create_engine(db_url)
    with engine.connect() as conn:
        pids = list(
            conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                )
            ).scalars()
        )
    engine.dispose()
    return pids


@dataclass
class Drained:
    stored: int
    batches: int
    elapsed: float  # wall seconds for the whole drain
    waited: float  # of which waiting for the central log's answers
    kiosk_cpu: float  # the relay's process, every thread
    central_cpu: float  # the service process
    pg_cpu: float  # the PostgreSQL backends


def central_cli(db_url: str, *args: str) -> str:
    out = subprocess.run(
        [CENTRAL, "--database", db_url, *args], capture_output=True, text=True, check=True
    )
    return out.stdout


class TimedClient(CentralClient):
    """Counts the time spent waiting for the central log's answers (request to answer)."""

    waited = 0.0

    def send(self, batch: IngestBatch) -> IngestAccepted | Refusal:
        start = time.perf_counter()
        try:
            return super().send(batch)
        finally:
            self.waited += time.perf_counter() - start


def drain(
    ledger: Path,
    data_dir: Path,
    station: str,
    url: str,
    token: str,
    batch_size: int,
    *,
    server_pid: int,
    db_url: str,
) -> Drained:
    """Drain ``ledger``'s outbox to the central log, timed and its CPU counted."""
    httpx.get(url + "/", timeout=10)  # the service's pool is warm: its backends exist
    backends = pg_backends(db_url)
    engine = make_engine(f"sqlite:///{ledger}")
    client = TimedClient(url, token, timeout=120, retry=RetryPolicy(attempts=3))
    relay = Relay(
        make_session_factory(engine),
        client,
        station_id=station,
        data_dir=data_dir,
        batch_size=batch_size,
    )
    # As the `kiosk sync` process does before its drains (since perf4; run against an older
    # tree it freezes too, which can only flatter that tree).
    gc.freeze()
    pg_before = {pid: cpu_seconds(pid) for pid in backends}
    central_before = cpu_seconds(server_pid)
    cpu_before = time.process_time()
    start = time.perf_counter()
    result = relay.drain()
    elapsed = time.perf_counter() - start
    kiosk_cpu = time.process_time() - cpu_before
    central_cpu = cpu_seconds(server_pid) - central_before
    # Backends opened during the drain count from zero.
    pg_cpu = sum(
        cpu_seconds(pid) - pg_before.get(pid, 0.0) for pid in {*backends, *pg_backends(db_url)}
    )
    client.close()
    engine.dispose()
    return Drained(
        result.stored,
        result.batches,
        elapsed,
        client.waited,
        kiosk_cpu,
        central_cpu,
        pg_cpu,
    )


def run(sizes: list[int]) -> None:
    admin = create_engine(PG)
    schema = f"bench_sync_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG else "?"
    db_url = f"{PG}{sep}options={quote(f'-csearch_path={schema}')}"
    port = free_port()
    server = None
    try:
        central_cli(db_url, "db", "upgrade")
        central_cli(db_url, "school", "add", "bench", "--name", "Bench School")
        server = subprocess.Popen(
            [CENTRAL, "--database", db_url, "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):  # start-up bound, not a measurement
            try:
                httpx.get(url + "/", timeout=1)  # any answer: it is up
                break
            except httpx.TransportError:
                time.sleep(0.1)
        print(
            f"central log: kiosk-central serve on PostgreSQL ({PG.split('@')[-1]}, "
            f"schema {schema}); kiosk ledger: SQLite; batch size {MAX_BATCH}"
        )
        print(
            f"{'queued':>8} {'batched ev/s':>13} {'per-event ev/s':>15} {'ratio':>7} "
            f"{'central share':>14}   goals"
        )
        breakdown: list[str] = []
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                runs: dict[str, Drained] = {}
                for mode, count, size in (
                    ("batched", n, MAX_BATCH),
                    ("single", min(n, PER_EVENT_SAMPLE), 1),
                ):
                    station = f"bench-{mode}-{n}"
                    token = (
                        central_cli(db_url, "station", "add", station, "--school", "bench")
                        .strip()
                        .splitlines()[-1]
                    )
                    ledger = Path(tmp) / f"{station}.db"
                    seed_ledger(ledger, station, count)
                    run = drain(
                        ledger,
                        Path(tmp),
                        station,
                        url,
                        token,
                        size,
                        server_pid=server.pid,
                        db_url=db_url,
                    )
                    assert run.stored == count, f"{mode}: stored {run.stored} of {count}"
                    runs[mode] = run
            batched, single = runs["batched"], runs["single"]
            rate, single_rate = batched.stored / batched.elapsed, single.stored / single.elapsed
            ratio = rate / single_rate
            print(
                f"{n:>8} {rate:>13,.0f} {single_rate:>15,.0f} "
                f"{ratio:>6.1f}x {batched.waited / batched.elapsed:>13.0%}   >= {GOAL_RATE:,} "
                f"ev/s: {'met' if rate >= GOAL_RATE else 'NOT met'}; "
                f">= {GOAL_RATIO}x: {'met' if ratio >= GOAL_RATIO else 'NOT met'}"
            )
            per = 1e3 / max(batched.batches, 1)
            breakdown.append(
                f"{n:>8} {batched.batches:>8} {batched.elapsed * per:>9.1f} "
                f"{batched.waited * per:>9.1f} {batched.kiosk_cpu * per:>10.1f} "
                f"{batched.central_cpu * per:>12.1f} {batched.pg_cpu * per:>11.1f}"
            )
        print(
            f"(per-event rate measured on the first {PER_EVENT_SAMPLE:,} events of a "
            "second station's queue, same central, same run; central share: the part of the "
            "batched drain spent waiting for the central log's answers)"
        )
        print(
            f"batched drain, per batch (ms; load average {os.getloadavg()[0]:.1f}):\n"
            f"{'queued':>8} {'batches':>8} {'wall':>9} {'waiting':>9} {'kiosk CPU':>10} "
            f"{'central CPU':>12} {'PG CPU':>11}"
        )
        print("\n".join(breakdown))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    run([int(a) for a in sys.argv[1:]] or [10_000, 50_000])
