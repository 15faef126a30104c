"""``kiosk-central demo``: a few synced stations' worth of records, so the pages show something.

Everything goes through the same ingest code a kiosk's batch takes. The demo users'
passwords and TOTP secret are printed: it is a demo database, never a school's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from central import admin
from central.ingest import Ingestor
from central.models import School
from central.sample import SampleStation
from central.store import make_sessions

DEMO_PASSWORD = "demo-password-1"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

PUPILS = [
    (1, "OAK-1001", "Amara", "Okafor", "9"),
    (2, "OAK-1002", "Ben", "Hughes", "10"),
    (3, "OAK-1003", "Chloe", "Nowak", "8"),
    (4, "OAK-1004", "Dev", "Patel", "11"),
    (5, "OAK-1005", "Ellie", "Fraser", "7"),
    (6, "OAK-1006", "Farid", "Haddad", "9"),
]


def demo_stations(start: datetime) -> list[SampleStation]:
    """Two stations at Oakfield: confiscations, a hold, a police hand-over, an alarm."""
    office = SampleStation("oak-office", start)
    exams = SampleStation("oak-exams", start + timedelta(minutes=3))
    for st in (office, exams):
        for pupil in PUPILS:
            st.pupil(*pupil)
        st.append("station.started", actor_id=None)
    holding = 1
    for week in range(6):
        for i, pupil in enumerate(PUPILS):
            if (week + i) % 3:
                continue
            st = office if i % 2 else exams
            st.clock = start + timedelta(days=7 * week + i, hours=1)
            st.confiscate(holding, pupil[0], "unauthorised_use" if i % 4 else "filming")
            holding += 1
    office.clock = start + timedelta(days=20, hours=3)
    office.confiscate(holding, 1, "suspected_indecent_images")
    office.append("holding.safeguarding_hold", holding_id=holding, previous="held")
    office.append("holding.handed_to_police", holding_id=holding, previous="safeguarding_hold")
    office.append("alarm.forced_open", actor_id=None, locker="A3")
    office.append(
        "release.refused", holding_id=holding - 1, barred=True, reason="collector is barred"
    )
    return [office, exams]


def load_demo(engine: Engine, now: datetime | None = None) -> Iterator[str]:
    """Load the demo into a migrated database; says what it did, line by line."""
    now = now or datetime.now(UTC)
    sessions = make_sessions(engine)
    with sessions.begin() as s:
        if s.scalar(select(School).where(School.slug == "oakfield")):
            yield "demo data already loaded"
            return
        admin.add_school(s, "oakfield", "Oakfield Academy")
        stations = demo_stations(now - timedelta(days=45))
        tokens = {
            st.station_id: admin.add_station(s, st.station_id, "oakfield", now).token
            for st in stations
        }
        for username, role, name in [
            ("dsl", "dsl", "Dana Lewis (DSL)"),
            ("head", "senior_leader", "Sam Ellis (Head)"),
            ("admin", "trust_admin", "Tariq Admin"),
            ("governor", "governor", "Grace Governor"),
        ]:
            admin.add_user(
                s,
                username=username,
                display_name=name,
                role=role,
                password=DEMO_PASSWORD,
                school_slug=None if role == "trust_admin" else "oakfield",
                now=now,
                totp_secret=DEMO_TOTP_SECRET,
                by_name="kiosk-central demo",
            )
    ingestor = Ingestor(sessions, lambda: now)
    for st in stations:
        for start in range(1, len(st.events) + 1, 20):
            ingestor.ingest(st.station_id, tokens[st.station_id], st.batch(start, start + 19))
        yield f"station {st.station_id}: {len(st.events)} events synced"
    yield f"users dsl, head, admin, governor; password {DEMO_PASSWORD!r}"
    yield f"TOTP secret for dsl and head: {DEMO_TOTP_SECRET} (demo only)"
