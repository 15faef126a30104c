"""A small school for data-protection tests: no demo history, people with known identifying
values, and helpers to dump the whole database and search it.

Two pupils matter: Rita (routine records only) and Sam (suspected indecent images: a
safeguarding hold and a police hand-over). Every identifying value of each is listed in
``RITA`` / ``SAM`` so a test can check that none of them survives anywhere in the database.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
from auth_testing import staff_identities
from kiosk_testing import T0, Clock
from sqlalchemy import select

from db.audit import verify_chain
from db.models import Contact, Pupil, Staff
from kiosk.audit_replay import record_baseline
from kiosk.auth import Identity
from kiosk.context import KioskContext, open_context
from kiosk.custody import Collector
from kiosk.demo import DEMO_DATA, demo_config
from kiosk.lockers import sync_lockers
from kiosk.mis_import import run_import
from kiosk.retention import PurgeReport, purge

#: Rita: a routine confiscation, released to her mother; she and her teacher leave.
RITA = {
    "given": "Ritagiven",
    "family": "Ritafamily",
    "mis": "R-MIS-7731",
    "card": "04FEED01",
    "contact": "Rosalind Ritamum",
    "device": "pink Nokia ritaphone",
    "reason": "filming the netball ritareason",
    "exam": "GCSE Ritaexam Paper",
    "teacher": "Lenny Leaverteacher",
    "teacher_code": "LEAVER9",
    "teacher_badge": "AB0000FF",
}
#: Sam: suspected indecent images, straight into a hold, handed to the police.
SAM = {
    "given": "Samgiven",
    "family": "Samfamily",
    "mis": "S-MIS-4410",
    "card": "04FEED02",
    "contact": "Samantha Sammum",
    "device": "grey Pixel samphone",
    "reason": "reported by a classmate samreason",
    "police": "CAD 4471 PC Samofficer",
}
SAM_BORN = date(2012, 3, 1)
PHOTO_DAYS = 7


@dataclass
class School:
    ctx: KioskContext
    clock: Clock
    folder: Path
    staff: dict[str, Identity] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def custody(self):
        return self.ctx.custody

    @property
    def photo_dir(self) -> Path:
        return self.folder / "photos"

    def purge(self, *, days: float = 0, at=None, dry_run: bool = False) -> PurgeReport:
        now = at or T0 + timedelta(days=days)
        with self.ctx.sessions.begin() as s:
            return purge(
                s,
                self.ctx.profile,
                now=now,
                station_id=self.ctx.config.station.id,
                dry_run=dry_run,
                photo_dir=self.photo_dir,
            )

    def dump(self) -> str:
        """Every row of every table, as SQL text (``sqlite3.Connection.iterdump``)."""
        conn = sqlite3.connect(self.folder / "kiosk.db")
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()

    def chain_ok(self) -> bool:
        with self.ctx.sessions() as s:
            report = verify_chain(s)
        assert report.ok, str(report.problem)
        return True


def leftovers(dump: str, person: dict[str, str]) -> list[str]:
    """The identifying values of ``person`` found in ``dump`` (case-insensitive)."""
    low = dump.lower()
    return [v for v in person.values() if v.lower() in low]


def seed_school(folder: Path) -> None:
    """Staff (from the demo CSV), lockers, Rita, Sam and the teacher who will leave."""
    config = demo_config(folder)
    ctx = open_context(config, migrate=True, clock=Clock())
    with ctx.sessions.begin() as s:
        run_import(s, "staff", DEMO_DATA / "staff.csv", station_id="demo-office", now=T0)
        sync_lockers(
            s,
            config.hardware,
            config.lockers.exam_cabinets,
            station_id=config.station.id,
            now=T0,
        )
        for who in (RITA, SAM):
            pupil = Pupil(
                mis_id=who["mis"],
                given_name=who["given"],
                family_name=who["family"],
                year_group="8",
                tutor_group="8R",
                card_uid=who["card"],
                exemptions=[],
                date_of_birth=SAM_BORN if who is SAM else None,
            )
            pupil.contacts.append(
                Contact(
                    name=who["contact"],
                    relationship_to_pupil="Mother",
                    parental_responsibility=True,
                    may_collect=True,
                )
            )
            s.add(pupil)
        s.add(
            Staff(
                staff_code=RITA["teacher_code"],
                name=RITA["teacher"],
                roles=["teacher"],
                badge_uid=RITA["teacher_badge"],
            )
        )
        # These rows are added by hand, not by an import: vouch for them as an upgrade would.
        s.flush()
        record_baseline(s, station_id=config.station.id, now=T0)
    ctx.close()


def open_school(folder: Path) -> School:
    clock = Clock()
    ctx = open_context(demo_config(folder), clock=clock)
    school = School(ctx, clock, folder)
    school.staff.update(
        staff_identities(
            ctx, lambda st: "leaver" if st.staff_code == RITA["teacher_code"] else st.roles[0]
        )
    )
    with ctx.sessions() as s:
        for p in s.scalars(select(Pupil)):
            school.ids[p.given_name] = p.id
            school.ids[f"{p.given_name}-contact"] = p.contacts[0].id
    return school


def rita_routine_confiscation(school: School) -> int:
    """Confiscated by the teacher who later leaves, released to her mother with ID seen."""
    c, clock = school.custody, school.clock
    clock.at(10, 0)
    h, _ = c.confiscate(
        school.staff["leaver"],
        pupil_id=school.ids[RITA["given"]],
        category="unauthorised_use",
        device_description=RITA["device"],
        switched_off_confirmed=True,
        reason=RITA["reason"],
    )
    c.confirm_deposit(school.staff["leaver"], h.id)
    clock.at(15, 30)
    c.begin_release(
        school.staff["office"],
        h.id,
        Collector("contact", school.ids[f"{RITA['given']}-contact"]),
        "driving_licence",
    )
    c.complete_release(school.staff["office"], h.id)
    return h.id


def rita_exam(school: School) -> int:
    c, clock = school.custody, school.clock
    clock.at(8, 30)
    session_id = c.open_exam_session(
        school.staff["exams"],
        name=RITA["exam"],
        starts_at=T0.replace(hour=9),
        ends_at=T0.replace(hour=10),
        candidate_ids=[school.ids[RITA["given"]]],
    )
    clock.at(10, 5)
    c.end_exam_session(school.staff["exams"], session_id)
    return session_id


def sam_safeguarding(school: School) -> int:
    """Suspected indecent images: forced hold on deposit, then handed to the police."""
    c, clock = school.custody, school.clock
    clock.at(11, 0)
    h, _ = c.confiscate(
        school.staff["office"],
        pupil_id=school.ids[SAM["given"]],
        category="indecent_images",
        device_description=SAM["device"],
        switched_off_confirmed=True,
        reason=SAM["reason"],
    )
    c.confirm_deposit(school.staff["office"], h.id)
    clock.at(14, 0)
    c.police_handover(school.staff["dsl"], h.id, SAM["police"])
    return h.id


def mark_left(school: School, *, pupils: list[str], staff: list[str], days: int) -> None:
    """What ``kiosk import ... --deactivate-missing`` does for people not in the MIS list."""
    when = T0 + timedelta(days=days)
    with school.ctx.sessions.begin() as s:
        for p in s.scalars(select(Pupil).where(Pupil.given_name.in_(pupils))):
            p.left_at = when
        for st in s.scalars(select(Staff).where(Staff.staff_code.in_(staff))):
            st.active, st.left_at = False, when
        s.flush()
        record_baseline(s, station_id=school.ctx.config.station.id, now=when)


def copy_school(template: Path, tmp_path: Path) -> School:
    """A fresh copy of a seeded school (seeding takes seconds: migrations, Argon2 PINs).

    Test modules define their own ``school`` fixture with it, so no fixture is imported.
    """
    target = tmp_path / "school"
    shutil.copytree(template, target)
    return open_school(target)


def make_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dp-school") / "school"
    seed_school(folder)
    return folder
