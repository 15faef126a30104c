"""Central log benchmark: ingest rate from 50 stations at once, and the tray's p95.

Needs PostgreSQL (default: database ``test`` on 127.0.0.1:5432; ``--database`` or
``KIOSK_TEST_POSTGRES`` to change). Works in a schema of its own, dropped at the end.

1. Ingest: ``kiosk-central serve`` (uvicorn, ``--workers`` processes) on a fresh store;
   50 stations push pre-built, pre-serialised batches of 500 hash-chained events
   concurrently over HTTP (``httpx``), each waiting for its answer before the next batch,
   as the kiosk's relay does. Printed beside a peer measured in the same run: the same
   rows written straight into PostgreSQL with no HTTP, no validation and no hashing, the
   ceiling the service can approach.
2. Tray: 1,000,000 events (and a tray's worth of cases, ~1 per 100 events) generated
   inside PostgreSQL with INSERT ... SELECT generate_series, then the DSL's tray pages
   fetched over HTTP by a signed-in DSL: p50/p95 of each page, beside the goal.

Run: .venv/bin/python bench/central_ingest.py [--events-per-station 2000] [--rows 1000000]
(``--rows 0``: the ingest figures only, no 1M-event store and no tray timings)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import httpx
import pyotp
from sqlalchemy import create_engine, text

from central import admin
from central.sample import SampleStation
from central.store import make_engine, make_sessions, upgrade

DEFAULT_URL = os.environ.get(
    "KIOSK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
STATIONS = 50
BATCH = 500
INGEST_GOAL = 10_000
TRAY_GOAL_MS = 200
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "benchmark passphrase"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    cli = Path(sys.executable).parent / "kiosk-central"
    proc = subprocess.Popen(
        [
            str(cli),
            "--database",
            url,
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--insecure-cookies",
        ],  # plain HTTP on loopback: httpx sends no Secure cookie there
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # a bench may poll for start-up; tests never do
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("kiosk-central serve did not start within 60 s")


def build_batches(n_events: int) -> dict[str, list[bytes]]:
    """Each station's chain, cut into serialised batches (not timed)."""
    out: dict[str, list[bytes]] = {}
    for i in range(STATIONS):
        st = SampleStation(f"bench-{i:02d}")
        for p in range(1, 21):
            st.pupil(p, f"B{i:02d}-{p:04d}", f"Given{p}", f"Family{i}", str(7 + p % 5))
        holding = 0
        while len(st.events) < n_events:
            holding += 1
            st.confiscate(holding, 1 + holding % 20)
            st.append("holding.released", holding_id=holding, previous="releasing")
        del st.events[n_events:]
        out[st.station_id] = [
            st.batch(start, start + BATCH - 1).model_dump_json().encode()
            for start in range(1, n_events + 1, BATCH)
        ]
    return out


async def push_all(base: str, tokens: dict[str, str], batches: dict[str, list[bytes]]) -> float:
    limits = httpx.Limits(max_connections=STATIONS, max_keepalive_connections=STATIONS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:

        async def station(name: str) -> None:
            headers = {
                "Authorization": f"Bearer {tokens[name]}",
                "Content-Type": "application/json",
            }
            for body in batches[name]:
                res = await client.post(
                    f"/api/v1/stations/{name}/events", content=body, headers=headers
                )
                if res.status_code != 200:
                    raise SystemExit(f"{name}: {res.status_code} {res.text[:300]}")

        start = time.perf_counter()
        await asyncio.gather(*(station(name) for name in batches))
        return time.perf_counter() - start


def _cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux ``/proc``); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def _pg_backends(url: str) -> list[int]:
    """Server processes connected to the bench's database (the service's pools)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        pids = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            )
        ).scalars()
        out = list(pids)
    engine.dispose()
    return out


def direct_insert_rate(url: str, schema: str, batches: dict[str, list[bytes]]) -> float:
    """Peer: the same rows COPYed straight into PostgreSQL, one transaction per batch."""
    from wire import IngestBatch

    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE peer_events (LIKE events INCLUDING ALL)"))
        station_pk, school_id = conn.execute(text("SELECT id, school_id FROM stations")).first()  # type: ignore[misc]
    now = datetime.now(UTC)
    rows_per_batch: list[list[dict[str, object]]] = []
    for bodies in batches.values():
        for body in bodies:
            batch = IngestBatch.model_validate_json(body)
            rows_per_batch.append(
                [
                    {
                        "station_pk": station_pk,
                        "school_id": school_id,
                        "seq": ev.seq + 1_000_000 * len(rows_per_batch),
                        "type": ev.type,
                        "occurred_at": datetime.fromisoformat(ev.occurred_at),
                        "occurred_at_text": ev.occurred_at,
                        "actor_id": ev.actor_id,
                        "holding_id": ev.holding_id,
                        "payload": ev.payload,
                        "prev_hash": ev.prev_hash,
                        "hash": ev.hash,
                        "received_at": now,
                        "pupil_pk": None,
                    }
                    for ev in batch.events
                ]
            )
    columns = list(rows_per_batch[0][0])
    total = sum(len(r) for r in rows_per_batch)
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        start = time.perf_counter()
        for rows in rows_per_batch:  # one transaction per batch, as the service does
            with cursor.copy(f"COPY peer_events ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(
                        [
                            cast(datetime, row[c]).replace(tzinfo=None)
                            if c in ("occurred_at", "received_at")
                            else json.dumps(row[c])
                            if c == "payload"
                            else row[c]
                            for c in columns
                        ]
                    )
            raw.commit()
        elapsed = time.perf_counter() - start
    finally:
        raw.close()
    engine.dispose()
    return total / elapsed


def fill(url: str, schema: str, rows: int) -> float:
    """``rows`` events over 100 stations, 1 case per 100 events, pupils to match."""
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    start = time.perf_counter()
    with engine.begin() as conn:
        school = conn.execute(text("SELECT id FROM schools WHERE slug = 'bench'")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO stations (station_id, school_id, token_hash, created_at, "
                "anchor_seq, anchor_hash) SELECT 'fill-' || g, :school, md5(g::text) || "
                "md5('x' || g), now(), 0, repeat('0', 64) FROM generate_series(1, 100) g"
            ),
            {"school": school},
        )
        conn.execute(
            text(
                "INSERT INTO pupils (school_id, mis_id, given_name, family_name, year_group, "
                "updated_at) SELECT :school, 'F' || g, 'Pupil' || g, 'Surname' || (g % 997), "
                "(7 + g % 5)::text, now() FROM generate_series(1, 2000) g"
            ),
            {"school": school},
        )
        conn.execute(
            text(
                "WITH fill_pupils AS (SELECT array_agg(id ORDER BY id) AS ids FROM pupils "
                "WHERE mis_id LIKE 'F%') "
                "INSERT INTO events (station_pk, school_id, seq, type, occurred_at, "
                "occurred_at_text, actor_id, holding_id, payload, prev_hash, hash, "
                "received_at, pupil_pk) "
                "SELECT st.id, :school, g, "
                "CASE WHEN g % 100 = 0 THEN 'incident.recorded' ELSE 'holding.held' END, "
                "timestamp '2025-09-01' + (g || ' minutes')::interval, '', 1, g, "
                "'{\"locker\": \"A1\"}'::json, repeat('0', 64), md5(st.id || ':' || g) "
                "|| md5(g || ':' || st.id), now(), "
                "fp.ids[1 + (g * 7 + st.id) % 2000] "
                "FROM stations st JOIN generate_series(1, :per) g ON true, fill_pupils fp "
                "WHERE st.station_id LIKE 'fill-%'"
            ),
            {"school": school, "per": rows // 100},
        )
        conn.execute(
            text(
                "INSERT INTO cases (school_id, station_pk, event_pk, pupil_pk, category, title, "
                "detail, opened_at, status, dedupe_key) "
                "SELECT school_id, station_pk, id, pupil_pk, 'incident', "
                "'E-safety incident: unauthorised use', '{}'::json, occurred_at, "
                "CASE WHEN id % 3 = 0 THEN 'closed' WHEN id % 3 = 1 THEN 'open' "
                "ELSE 'untriaged' END, 'fill:' || id "
                "FROM events WHERE type = 'incident.recorded' AND station_pk IN "
                "(SELECT id FROM stations WHERE station_id LIKE 'fill-%')"
            )
        )
        conn.execute(text("ANALYZE"))
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def tray_timings(base: str, samples: int) -> dict[str, list[float]]:
    with httpx.Client(base_url=base, timeout=60, follow_redirects=True) as client:
        form = client.get("/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf
        res = client.post(
            "/login",
            data={
                "username": "bench-dsl",
                "password": PASSWORD,
                "code": pyotp.TOTP(SECRET).now(),
                "csrf_token": csrf.group(1),
            },
        )
        if "<h1>Tray" not in res.text:
            error = re.search(r'class="error"[^>]*>([^<]*)<', res.text)
            raise SystemExit(f"DSL sign-in failed: {error.group(1) if error else res.status_code}")
        case = re.search(r'href="/cases/(\d+)"', res.text)
        assert case
        pages = {
            "tray (newest 50)": "/tray",
            "tray untriaged": "/tray?status=untriaged",
            "tray search by name": "/tray?q=Surname42",
            "tray date range": "/tray?from=2026-01-01&to=2026-02-01",
            "case + chronology": f"/cases/{case.group(1)}",
        }
        out: dict[str, list[float]] = {}
        for label, path in pages.items():
            client.get(path)  # warm
            times = []
            for _ in range(samples):
                start = time.perf_counter()
                r = client.get(path)
                times.append((time.perf_counter() - start) * 1000)
                assert r.status_code == 200, (path, r.status_code)
            out[label] = times
        return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database", default=DEFAULT_URL)
    ap.add_argument("--events-per-station", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--samples", type=int, default=100)
    args = ap.parse_args()

    schema = f"central_bench_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(args.database)
    with admin_engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = f"{args.database}?options=-csearch_path%3D{schema}"
    proc = None
    try:
        engine = make_engine(args.database, connect_args={"options": f"-csearch_path={schema}"})
        upgrade(engine)
        tokens: dict[str, str] = {}
        now = datetime.now(UTC)
        with make_sessions(engine).begin() as s:
            admin.add_school(s, "bench", "Bench Academy")
            for i in range(STATIONS):
                name = f"bench-{i:02d}"
                tokens[name] = admin.add_station(s, name, "bench", now).token
            admin.add_user(
                s,
                username="bench-dsl",
                display_name="Bench DSL",
                role="dsl",
                password=PASSWORD,
                school_slug="bench",
                now=now,
                totp_secret=SECRET,
            )
        engine.dispose()
        print(f"building {STATIONS} stations x {args.events_per_station} events ...")
        batches = build_batches(args.events_per_station)
        total = STATIONS * args.events_per_station
        port = free_port()
        proc = start_server(url, port, args.workers)
        base = f"http://127.0.0.1:{port}"
        workers = [proc.pid, *_children(proc.pid)]
        cpu_before = sum(_cpu_seconds(p) for p in workers)
        client_before = time.process_time()
        elapsed = asyncio.run(push_all(base, tokens, batches))
        client_cpu = time.process_time() - client_before
        service_cpu = sum(_cpu_seconds(p) for p in workers) - cpu_before
        # The pools' backends were opened by this run's requests: all their CPU is ingest's.
        backends = _pg_backends(args.database)
        pg_cpu = sum(_cpu_seconds(p) for p in backends)
        rate = total / elapsed
        peer = direct_insert_rate(args.database, schema, batches)
        print()
        print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        print(f"ingest: {total:,} events from {STATIONS} stations in {elapsed:.2f} s")
        print(
            f"  service over HTTP ({args.workers} workers): {rate:,.0f} events/s "
            f"(goal >= {INGEST_GOAL:,})"
        )
        print(f"  peer, same rows straight into PostgreSQL: {peer:,.0f} events/s")
        print(
            f"  CPU per 1,000 events: service {1000 * service_cpu / total * 1000:.0f} ms, "
            f"PostgreSQL backends {1000 * pg_cpu / total * 1000:.0f} ms, "
            f"load generator {1000 * client_cpu / total * 1000:.0f} ms "
            f"(2 cores give {2000:,} ms a second)"
        )

        if args.rows <= 0:
            return  # --rows 0: the ingest figures only
        fill_s = fill(args.database, schema, args.rows)
        with admin_engine.connect() as conn:
            n_events = conn.execute(text(f"SELECT count(*) FROM {schema}.events")).scalar_one()
            n_cases = conn.execute(text(f"SELECT count(*) FROM {schema}.cases")).scalar_one()
            size = conn.execute(
                text(f"SELECT pg_total_relation_size('{schema}.events')")
            ).scalar_one()
        print(
            f"store: {n_events:,} events, {n_cases:,} cases (generated in {fill_s:.1f} s); "
            f"events table + indexes {size / 1e6:,.0f} MB, {size / n_events:,.0f} B/event"
        )
        timings = tray_timings(base, args.samples)
        print(
            f"tray pages, {args.samples} requests each, signed-in DSL (goal p95 <= "
            f"{TRAY_GOAL_MS} ms):"
        )
        for label, times in timings.items():
            print(
                f"  {label:22s} p50 {statistics.median(times):6.1f} ms   p95 {p95(times):6.1f} ms"
            )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        with admin_engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin_engine.dispose()


if __name__ == "__main__":
    main()
