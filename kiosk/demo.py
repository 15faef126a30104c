"""A demo school with realistic history, so every command can be tried without a Pi.

The pupils, contacts and staff go in through the real MIS importer (the CSVs in
``demo_data/`` use SIMS-style headers), and the history is made by the real use-cases run
with a clock set in the past, so the demo ledger is hash-chained like a real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.audit import append_event
from db.models import Contact, Pupil, Staff
from kiosk.auth import AuthService, AuthSettings
from kiosk.config import KioskConfig, parse_config
from kiosk.context import KioskContext, open_context
from kiosk.custody import Collector
from kiosk.lockers import sync_lockers

DEMO_DATA = Path(__file__).parent / "demo_data"

#: Printed on screen and in the README so a newcomer can sign in.
#: The staff CSV carries no PINs (issue 9), so the seed sets these through the PIN rules:
#: 6 digits for senior and DSL, nothing trivial, nothing from the badge's number.
DEMO_BADGES = {
    "office": ("AB000001", "3917"),
    "dsl": ("AB000002", "472915"),
    "senior": ("AB000003", "815274"),
    "exams": ("AB000004", "5082"),
    "teacher": ("AB000005", "6294"),
    "technician": ("AB000006", "7403"),
}

#: Lockers the demo hardware has: bank A (GPIO, 8 doors), bank B (RS-485 board, 4 doors,
#: B4 being the exam cabinet that takes 30 numbered pouches).
DEMO_LOCKERS = (
    [("A", n, 1) for n in range(1, 9)] + [("B", n, 1) for n in range(1, 4)] + [("B", 4, 30)]
)


def demo_config(data_dir: Path) -> KioskConfig:
    return parse_config(
        {
            "station": {
                "id": "demo-office",
                "name": "Demo School office",
                "data_dir": str(data_dir),
                "profile": "default",
            }
        }
    )


def write_config_file(data_dir: Path) -> Path:
    path = data_dir / "kiosk.toml"
    path.write_text(
        "# Demo kiosk config written by `kiosk demo`. See README, Configuration.\n"
        "[station]\n"
        'id = "demo-office"\n'
        'name = "Demo School office"\n'
        'profile = "default"\n'
        'data_dir = "."\n',
        encoding="utf-8",
    )
    return path


@dataclass
class _Clock:
    """A settable clock that never runs past the real time (no history in the future)."""

    now: datetime
    limit: datetime

    def __call__(self) -> datetime:
        return min(self.now, self.limit)


def _at(day: datetime, hh: int, mm: int, tz: object) -> datetime:
    return datetime.combine(day.date(), time(hh, mm), tzinfo=tz).astimezone(UTC)  # type: ignore[arg-type]


def _set_demo_pins(s: Session, config: KioskConfig, now: datetime) -> None:
    """The printed demo PINs, checked against the same rules as a real PIN, each an event."""
    auth = AuthService(
        AuthSettings.from_config(config.auth), station_id=config.station.id, clock=lambda: now
    )
    pins = dict(DEMO_BADGES.values())
    for staff in s.scalars(select(Staff).order_by(Staff.id)):
        if staff.badge_uid in pins:
            staff.pin_hash = auth.hash_checked_pin(staff, pins[staff.badge_uid])
            append_event(
                s,
                station_id=config.station.id,
                type="staff.pin_set",
                occurred_at=now,
                payload={"staff": staff.id, "reason": "demo seed"},
            )


def seed_demo(data_dir: Path, *, now: datetime | None = None) -> KioskContext:
    """Create (or refuse to overwrite) a demo station in ``data_dir`` and return it open."""
    # Here, not at the top: a running simulated station imports this module for its badge
    # list (kiosk.runtime.demo_cards, the idle screen), and the importer (with the replay
    # and staff-admin modules behind it) is only needed to seed (issue 15, memory).
    from kiosk.mis_import import run_import

    data_dir.mkdir(parents=True, exist_ok=True)
    if (data_dir / "kiosk.db").exists():
        raise FileExistsError(
            f"{data_dir} already holds a kiosk database; choose an empty folder with --dir"
        )
    config = demo_config(data_dir)
    write_config_file(data_dir)
    real_now = now or datetime.now(UTC)
    clock = _Clock(real_now - timedelta(days=21), real_now)
    ctx = open_context(config, migrate=True, clock=clock)
    tz = config.tz
    with ctx.sessions.begin() as s:
        for kind in ("pupils", "contacts", "staff"):
            run_import(
                s, kind, DEMO_DATA / f"{kind}.csv", station_id=config.station.id, now=clock.now
            )
        _set_demo_pins(s, config, clock.now)
        sync_lockers(
            s,
            config.hardware,
            config.lockers.exam_cabinets,
            station_id=config.station.id,
            now=clock.now,
        )
    # The history is made by real sign-ins with the printed demo PINs: use-cases refuse any
    # identity the station's AuthService did not mint (issue 9).
    staff = {role: ctx.custody.sign_in(badge, pin) for role, (badge, pin) in DEMO_BADGES.items()}
    with ctx.sessions() as s:
        pupils = {p.given_name: p.id for p in s.scalars(select(Pupil))}
        first_contact = {
            c.pupil_id: c.id for c in s.scalars(select(Contact).order_by(Contact.priority.desc()))
        }
    office, dsl, exams = staff["office"], staff["dsl"], staff["exams"]
    c = ctx.custody
    local_today = real_now.astimezone(tz)

    def confiscate(pupil: str, when: datetime, category: str, what: str, why: str) -> int:
        clock.now = when
        h, _ = c.confiscate(
            office,
            pupil_id=pupils[pupil],
            category=category,
            device_description=what,
            switched_off_confirmed=True,
            reason=why,
        )
        clock.now = when + timedelta(seconds=20)
        c.confirm_deposit(office, h.id)
        return h.id

    def release(holding: int, pupil: str, when: datetime) -> None:
        clock.now = when
        c.begin_release(
            office, holding, Collector("contact", first_contact[pupils[pupil]]), "driving_licence"
        )
        clock.now = when + timedelta(seconds=30)
        c.complete_release(office, holding)

    three_weeks = local_today - timedelta(days=21)
    h1 = confiscate(
        "Amara",
        _at(three_weeks, 10, 5, tz),
        "unauthorised_use",
        "black iPhone 13, cracked case",
        "Using phone in maths lesson",
    )
    release(h1, "Amara", _at(three_weeks, 15, 40, tz))
    two_days = local_today - timedelta(days=2)
    confiscate(
        "Ben",
        _at(two_days, 11, 20, tz),
        "unauthorised_use",
        "blue Samsung Galaxy A54",
        "Filming in the corridor",
    )
    h3 = confiscate(
        "Dylan",
        _at(two_days, 13, 45, tz),
        "bullying",
        "white iPhone SE in a red case",
        "Messages reported by another pupil",
    )
    clock.now = _at(two_days, 14, 10, tz)
    c.place_hold(dsl, h3, "Bullying messages reported; DSL reviewing before any release")
    c.record_parent_informed(office, h3, "phone")
    today_morning = local_today if local_today.hour >= 10 else local_today - timedelta(days=1)
    confiscate(
        "Chloe",
        _at(today_morning, 9, 15, tz),
        "unauthorised_use",
        "silver Google Pixel 7",
        "Phone out in registration",
    )
    # An exam session this afternoon with three of six candidates deposited.
    clock.now = _at(local_today, 8, 0, tz)
    session_id = c.open_exam_session(
        exams,
        name="GCSE English Language Paper 1",
        room="Sports hall",
        starts_at=_at(local_today, 13, 30, tz),
        ends_at=_at(local_today, 15, 15, tz),
        candidate_ids=[pupils[n] for n in ("Ella", "Finn", "Grace", "Harry", "Isla", "Chloe")],
    )
    for i, name in enumerate(("Ella", "Finn", "Grace")):
        clock.now = _at(local_today, 8, 5 + i, tz)
        d = c.exam_deposit(
            None,
            session_id=session_id,
            pupil_id=pupils[name],
            switched_off_confirmed_by=exams.staff_id,  # the officer, for the session
        )
        c.confirm_deposit(None, d.id)
    c.clock = lambda: datetime.now(UTC)
    return ctx
