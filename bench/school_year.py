"""A school year of ledger, built through the kiosk's own use-cases, saved for the benches.

Run: .venv/bin/python bench/school_year.py [--out bench/.data/school_year] [--holdings 20000]

What it builds (issue 15's "school year of data"): the demo school (``kiosk.demo.seed_demo``:
staff with Argon2 PINs, lockers, its own history), then

- 1,000 pupils with one collecting parent each, through the MIS importer
  (``kiosk.mis_import.run_import`` on generated CSV files, the path a school's import takes);
- 20,000 holdings, each one a real confiscation through :class:`kiosk.custody.Custody`:
  ``confiscate`` -> ``confirm_deposit`` -> ``begin_release`` (a parent with ID) ->
  ``complete_release``: the policy engine decides each step, the offence count and locker
  rules run, and every event is appended to the hash chain by the use-case itself
  (5 events per holding: depositing, incident.recorded, held, releasing, released), so
  about 100,000 events. The last day's phones are left held.

The only fast path: the transactions are not fsynced while the year is generated
(``PRAGMA synchronous=OFF`` on the generator's own connections; a power cut during
generation is not what is being measured). The saved database is checkpointed and its chain
verified before it is kept; the benches copy it and open it with the kiosk's normal settings.

120 single lockers stand in the office (the demo has 11): a busy office confiscates ~105
phones a day, each released after school, so the day's phones need a locker each.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, func, insert, select

from db.audit import verify_chain
from db.base import UTCDateTime
from db.engine import make_read_session_factory
from db.models import (
    ChainHead,
    Contact,
    Event,
    Holding,
    Incident,
    Locker,
    LockerState,
    OutboxRow,
    Pupil,
)
from kiosk.context import KioskContext, open_context
from kiosk.custody import Collector, PolicyRefused
from kiosk.demo import DEMO_BADGES, demo_config, seed_demo
from kiosk.mis_import import run_import
from wire.chain import event_digest

DEFAULT_OUT = Path(__file__).parent / ".data" / "school_year"
YEAR_START = date(2025, 9, 1)
EXTRA_LOCKERS = 120
CATEGORIES = ("unauthorised_use",)
FORENAMES = tuple("Ada Ben Cara Dev Eli Fay Gus Hana Ivo Jun Kai Lia Mo Nia Oli Pia".split())  # noqa: SIM905
SURNAMES = tuple("Shaw Patel Okafor Hughes Nowak Rossi Kim Byrne Ali Evans Ward".split())  # noqa: SIM905


def _pupils_csv(folder: Path, n: int) -> tuple[Path, Path]:
    pupils, contacts = folder / "year_pupils.csv", folder / "year_contacts.csv"
    rng = random.Random(15)
    with (
        pupils.open("w", newline="", encoding="utf-8") as p,
        contacts.open("w", newline="", encoding="utf-8") as c,
    ):
        pw, cw = csv.writer(p), csv.writer(c)
        pw.writerow(
            [
                "UPN",
                "Legal Forename",
                "Legal Surname",
                "Year",
                "Reg Group",
                "Card UID",
                "Exemptions",
            ]
        )
        cw.writerow(
            [
                "Admission Number",
                "Contact Name",
                "Relationship",
                "Parental Responsibility",
                "Collection Rights",
                "Priority",
            ]
        )
        for i in range(n):
            upn = f"Y{200000000000 + i}"
            year = 7 + i % 5
            surname = rng.choice(SURNAMES)
            pw.writerow(
                [
                    upn,
                    rng.choice(FORENAMES),
                    surname,
                    year,
                    f"{year}{'ABCD'[i % 4]}",
                    f"05{i:06X}",
                    "",
                ]
            )
            cw.writerow([upn, f"Parent {surname}", "Mother", "Yes", "Yes", 1])
    return pupils, contacts


def _school_days(start: date, count: int) -> list[date]:
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _unsynced(ctx: KioskContext) -> None:
    """Generation only: skip the fsync per commit (see the module docstring)."""

    def off(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    event.listen(ctx.engine, "connect", off)
    ctx.engine.dispose()


def _replicate(ctx: KioskContext, want: int, pupils: list[int], rng: random.Random) -> int:
    """The fast path for the bulk: copies of the use-case days, four weeks on each time.

    Each copy of a holding takes a random pupil and shifts every time by whole weeks (so
    weekdays and hours stay real); its events are the use-case events re-chained: new seq,
    prev_hash and hash computed by :func:`wire.chain.event_digest`, exactly as
    :func:`db.audit.append_event` would, so the chain verifies and looks like the real thing.
    """
    if want <= 0:
        return 0
    ht, it, et = Holding.__table__, Incident.__table__, Event.__table__
    station = ctx.config.station.id
    with ctx.sessions() as s:
        template = [
            dict(r) for r in s.execute(select(ht).where(ht.c.state == "released")).mappings()
        ]
        ids = [h["id"] for h in template]
        incidents = {
            r["holding_id"]: dict(r)
            for r in s.execute(select(it).where(it.c.holding_id.in_(ids))).mappings()
        }
        events = [
            dict(r)
            for r in s.execute(
                select(et).where(et.c.holding_id.in_(ids)).order_by(et.c.seq)
            ).mappings()
        ]
        head = s.get(ChainHead, station)
        assert head is not None
        seq, prev = head.seq, head.hash
        next_h = (s.scalar(select(func.max(ht.c.id))) or 0) + 1000
        next_i = (s.scalar(select(func.max(it.c.id))) or 0) + 1000
        next_e = (s.scalar(select(func.max(et.c.id))) or 0) + 1000
        last_when = s.scalar(select(func.max(et.c.occurred_at)))
    assert last_when is not None
    first_when = min(e["occurred_at"] for e in events)
    weeks = (last_when - first_when).days // 7 + 1
    by_holding: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        by_holding.setdefault(e["holding_id"], []).append(e)
    times_h = [c.name for c in ht.columns if isinstance(c.type, UTCDateTime)]
    made, copy = 0, 0
    while made < want:
        copy += 1
        shift = timedelta(weeks=weeks * copy)
        new_h, new_i, new_e, new_o = [], [], [], []
        id_map: dict[int, int] = {}
        for h in template:
            if made >= want:
                break
            row = dict(h, id=next_h, pupil_id=rng.choice(pupils))
            for col in times_h:
                if row[col] is not None:
                    row[col] = row[col] + shift
            id_map[h["id"]] = next_h
            new_h.append(row)
            if h["id"] in incidents:
                inc = dict(incidents[h["id"]], id=next_i, holding_id=next_h)
                inc["pupil_id"] = row["pupil_id"]
                inc["created_at"] = inc["created_at"] + shift
                new_i.append(inc)
                next_i += 1
            next_h += 1
            made += 1
        for e in events:
            hid = id_map.get(e["holding_id"])
            if hid is None:
                continue
            seq += 1
            when = e["occurred_at"] + shift
            digest = event_digest(
                station_id=station,
                seq=seq,
                type=e["type"],
                occurred_at=when,
                actor_id=e["actor_id"],
                holding_id=hid,
                payload=e["payload"],
                prev_hash=prev,
            )
            new_e.append(
                dict(
                    e,
                    id=next_e,
                    seq=seq,
                    occurred_at=when,
                    holding_id=hid,
                    prev_hash=prev,
                    hash=digest,
                )
            )
            new_o.append({"event_id": next_e, "created_at": when, "attempts": 0})
            prev = digest
            next_e += 1
        with ctx.sessions.begin() as s:
            s.execute(insert(Holding), new_h)
            if new_i:
                s.execute(insert(Incident), new_i)
            s.execute(insert(Event), new_e)
            s.execute(insert(OutboxRow), new_o)
            head = s.get(ChainHead, station)
            assert head is not None
            head.seq, head.hash = seq, prev
    return made


def build(
    out: Path, *, pupils: int = 1000, holdings: int = 20_000, real_days: int = 10
) -> dict[str, float]:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t_start = time.perf_counter()
    first_day = datetime.combine(YEAR_START, datetime.min.time(), UTC)
    seed_demo(out, now=first_day).close()
    clock = _Clock(first_day + timedelta(hours=8))
    ctx = open_context(demo_config(out), clock=clock)
    _unsynced(ctx)
    pupils_csv, contacts_csv = _pupils_csv(out, pupils)
    with ctx.sessions.begin() as s:
        for kind, path in (("pupils", pupils_csv), ("contacts", contacts_csv)):
            run_import(s, kind, path, station_id=ctx.config.station.id, now=clock.now)
        # Lockers are physical: a bigger office has more (hardware config, not a use-case).
        for n in range(1, EXTRA_LOCKERS + 1):
            s.add(Locker(bank="Y", number=n, capacity=1, state=LockerState.FREE))
    staff = ctx.custody.sign_in(*DEMO_BADGES["office"])  # a real sign-in (issue 9)
    with ctx.sessions() as s:
        year_lockers = list(s.scalars(select(Locker.id).where(Locker.bank == "Y")))
        year_pupils = list(
            s.scalars(select(Pupil.id).where(Pupil.mis_id.like("Y%")).order_by(Pupil.id))
        )
        parent = {c.pupil_id: c.id for c in s.scalars(select(Contact))}
    per_day = 105
    rng = random.Random(2025)
    c = ctx.custody
    made = refused = 0
    t_uc = time.perf_counter()

    def school_day(day: date, release: bool) -> None:
        """One day at the office through the use-cases: phones in all day, out after 16:00."""
        nonlocal made, refused
        morning = datetime.combine(day, datetime.min.time(), ctx.config.tz).replace(hour=9)
        held: list[tuple[int, int]] = []  # the Y bank's 120 lockers take a day's phones
        for k in range(per_day):
            pupil = rng.choice(year_pupils)
            clock.now = (morning + timedelta(minutes=3 * k)).astimezone(UTC)
            try:
                h, _ = c.confiscate(
                    staff,
                    pupil_id=pupil,
                    category=rng.choice(CATEGORIES),
                    device_description="phone",
                    switched_off_confirmed=True,
                    reason="Phone out in lesson",
                    locker_id=year_lockers[k],
                )
            except PolicyRefused:
                refused += 1
                continue
            clock.now += timedelta(seconds=20)
            c.confirm_deposit(staff, h.id)
            held.append((h.id, pupil))
            made += 1
        if not release:
            return  # the last day's phones stay in the lockers
        evening = datetime.combine(day, datetime.min.time(), ctx.config.tz).replace(hour=16)
        for k, (hid, pupil) in enumerate(held):
            clock.now = (evening + timedelta(minutes=k)).astimezone(UTC)
            try:
                c.begin_release(staff, hid, Collector("contact", parent[pupil]), "passport")
            except PolicyRefused:
                refused += 1
                continue
            clock.now += timedelta(seconds=30)
            c.complete_release(staff, hid)

    days = _school_days(YEAR_START + timedelta(days=1), real_days)
    for d_i, day in enumerate(days):
        school_day(day, release=True)
        rate = made / (time.perf_counter() - t_uc)
        print(f"  use-case day {d_i + 1}/{real_days}: {made} holdings ({rate:.1f}/s)", flush=True)
    uc_s = time.perf_counter() - t_uc
    t_rep = time.perf_counter()
    copies = _replicate(ctx, holdings - per_day - made, year_pupils, rng)
    rep_s = time.perf_counter() - t_rep
    print(f"  replicated {copies} holdings with their events in {rep_s:.0f} s", flush=True)
    with ctx.sessions() as s:
        newest = s.scalar(select(func.max(Event.occurred_at)))
    assert newest is not None
    last_day = newest.astimezone(ctx.config.tz).date() + timedelta(days=1)
    while last_day.weekday() >= 5:
        last_day += timedelta(days=1)
    school_day(last_day, release=False)
    uc_s = time.perf_counter() - t_uc - rep_s
    with ctx.engine.connect() as conn:  # outside any transaction: raw connection
        conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    with make_read_session_factory(ctx.engine)() as s:
        counts = {
            "pupils": float(s.scalar(select(func.count(Pupil.id))) or 0),
            "holdings": float(s.scalar(select(func.count(Holding.id))) or 0),
            "events": float(s.scalar(select(func.count(Event.id))) or 0),
        }
        report = verify_chain(s)
    ctx.close()
    if not report.ok:
        raise SystemExit(f"generated chain does not verify: {report.problem}")
    counts["refused"] = float(refused)
    counts["use_case_s"] = uc_s
    counts["replicated_s"] = rep_s
    counts["total_s"] = time.perf_counter() - t_start
    return counts


def ensure(out: Path = DEFAULT_OUT) -> Path:
    """The saved school year's folder, generated first if missing (benches call this)."""
    if not (out / "kiosk.db").exists() or not (out / "DONE").exists():
        print(f"generating a school year in {out} (a few minutes, once)...", flush=True)
        build(out)
        (out / "DONE").write_text("ok\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--pupils", type=int, default=1000)
    ap.add_argument("--holdings", type=int, default=20_000)
    ap.add_argument("--real-days", type=int, default=10, help="school days through use-cases")
    args = ap.parse_args()
    counts = build(args.out, pupils=args.pupils, holdings=args.holdings, real_days=args.real_days)
    (args.out / "DONE").write_text("ok\n")
    print(
        f"school year in {args.out}: {counts['pupils']:.0f} pupils, "
        f"{counts['holdings']:.0f} holdings, {counts['events']:.0f} events "
        f"({counts['refused']:.0f} policy refusals skipped); use-cases took "
        f"{counts['use_case_s']:.0f} s, replication {counts['replicated_s']:.0f} s; "
        f"total {counts['total_s']:.0f} s"
    )


if __name__ == "__main__":
    main()
