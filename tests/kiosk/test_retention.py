"""Retention purge: every kind of personal data goes on its own clock, safeguarding records
keep theirs, nothing identifying of a purged person survives anywhere in the database, and
the audit chain still verifies after every purge (the clock is injected, never waited on)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dp_school import (
    RITA,
    SAM,
    SAM_BORN,
    copy_school,
    leftovers,
    make_template,
    mark_left,
    rita_exam,
    rita_routine_confiscation,
    sam_safeguarding,
)
from kiosk_testing import T0
from sqlalchemy import delete, func, select

from db.audit import PURGE_EVENT, verify_chain
from db.models import (
    ChainCheckpoint,
    Contact,
    Event,
    ExamSession,
    Holding,
    Incident,
    MinimumDataError,
    OutboxRow,
    Pupil,
    Staff,
)
from kiosk.photos import CRASH_ENV, TEMP_MARK
from kiosk.retention import flush_write_ahead_log, retention_table


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory)


@pytest.fixture
def school(tmp_path, template):
    s = copy_school(template, tmp_path)
    yield s
    s.ctx.close()


def _tamper_delete(s, event: Event) -> None:
    """What someone editing the database by hand would do to remove an event."""
    s.execute(delete(OutboxRow).where(OutboxRow.event_id == event.id))
    s.delete(event)


def _count(school, model) -> int:
    with school.ctx.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def _purge_events(school) -> list[dict]:
    with school.ctx.sessions() as s:
        return [e.payload for e in s.scalars(select(Event).where(Event.type == PURGE_EVENT))]


@pytest.fixture
def history(school):
    """Rita's routine confiscation and exam, Sam's police hand-over; both pupils and the
    teacher who confiscated Rita's phone leave ten days later."""
    rita_holding = rita_routine_confiscation(school)
    rita_exam(school)
    sam_holding = sam_safeguarding(school)
    mark_left(school, pupils=[RITA["given"], SAM["given"]], staff=[RITA["teacher_code"]], days=10)
    return rita_holding, sam_holding


def test_police_reference_and_exam_name_never_enter_the_event_chain(school, history):
    with school.ctx.sessions() as s:
        payloads = " ".join(str(e.payload) for e in s.scalars(select(Event)))
    assert SAM["police"] not in payloads and RITA["exam"] not in payloads
    assert not leftovers(payloads, RITA) and not leftovers(payloads, SAM)


def test_clock_moved_through_every_period(school, history):
    rita_holding, sam_holding = history
    r = school.ctx.profile.retention
    assert school.purge(days=0).total == 0 and school.chain_ok()

    # Past the routine holding period: Rita's holding and exam session go, her incident and
    # Sam's safeguarding record stay; Rita and her teacher stay while a record names them.
    school.purge(days=r.holding_days.value + 1)
    dump = school.dump()
    assert RITA["device"] not in dump and RITA["exam"] not in dump
    assert RITA["reason"] in dump  # the incident summary, kept for incident_days
    assert RITA["mis"] in dump and RITA["teacher"] in dump
    assert set(leftovers(dump, SAM)) == set(SAM.values())  # safeguarding: all of it kept
    with school.ctx.sessions() as s:
        assert s.get(Holding, rita_holding) is None and s.get(Holding, sam_holding) is not None
        assert s.scalar(select(func.count()).select_from(ExamSession)) == 0
    assert school.chain_ok()

    # Past the routine incident and event periods: nothing of Rita, her mother or her teacher
    # is left anywhere; Sam's record stays, and so do the events of it.
    report = school.purge(days=r.incident_days.value + 1)
    assert report.kinds["incidents"] == 1 and report.kinds["pupils"] == 1
    assert report.kinds["contacts"] == 1 and report.kinds["staff"] == 1
    assert report.kinds["events"] > 0 and report.events_held_back > 0
    dump = school.dump()
    assert leftovers(dump, RITA) == []
    assert set(leftovers(dump, SAM)) == set(SAM.values())
    with school.ctx.sessions() as s:
        assert s.get(ChainCheckpoint, "demo-office") is not None
        assert s.scalars(select(Event).where(Event.holding_id == sam_holding)).first()
    assert school.chain_ok()

    # The day before Sam's 25th birthday the safeguarding record is still there ...
    eve = datetime(SAM_BORN.year + 25, SAM_BORN.month, SAM_BORN.day, tzinfo=UTC) - timedelta(
        seconds=1
    )
    assert school.purge(at=eve).kinds["safeguarding_holdings"] == 0
    assert SAM["police"] in school.dump()
    # ... and on it, the record, its incident, Sam, Sam's mother and every old event go.
    report = school.purge(at=eve + timedelta(seconds=1))
    assert report.kinds["safeguarding_holdings"] == 1
    assert report.kinds["safeguarding_incidents"] == 1 and report.kinds["pupils"] == 1
    dump = school.dump()
    assert leftovers(dump, SAM) == [] and leftovers(dump, RITA) == []
    with school.ctx.sessions() as s:
        types = {e.type for e in s.scalars(select(Event))}
    assert types == {PURGE_EVENT}  # only the purge records remain
    assert school.chain_ok()
    counts = _purge_events(school)[-1]["counts"]
    assert counts["safeguarding_holdings"] == 1 and "checkpoint" in _purge_events(school)[-1]
    assert not leftovers(str(_purge_events(school)), SAM)


def test_safeguarding_without_a_birth_date_is_kept_25_years_from_closing(school):
    sam_holding = sam_safeguarding(school)
    with school.ctx.sessions.begin() as s:
        s.get(Pupil, school.ids[SAM["given"]]).date_of_birth = None
    days = school.ctx.profile.retention.safeguarding_days_without_birth_date.value
    assert school.purge(days=days - 1).kinds["safeguarding_holdings"] == 0
    assert school.purge(days=days + 1).holdings == [sam_holding]
    assert school.chain_ok()


def test_a_hold_placed_then_lifted_is_still_a_safeguarding_record(school):
    h = rita_routine_confiscation(school)
    with school.ctx.sessions.begin() as s:
        s.get(Holding, h).hold_placed_at = T0  # a hold was placed and lifted before release
    r = school.ctx.profile.retention
    assert school.purge(days=r.incident_days.value + 1).holdings == []


def test_nothing_is_due_today_and_dry_run_changes_nothing(school, history):
    assert school.purge(days=0).total == 0
    before = school.dump()
    report = school.purge(days=3000, dry_run=True)
    assert report.kinds["holdings"] == 1 and report.kinds["events"] > 0
    assert school.dump() == before


def test_dry_run_lines_are_counts_by_kind_with_no_names(school, history):
    lines = "\n".join(school.purge(days=3000, dry_run=True).lines())
    assert "closed holdings (routine)" in lines and "audit events" in lines
    assert not leftovers(lines, RITA) and not leftovers(lines, SAM)


def test_the_real_purge_records_counts_only_as_a_system_event(school, history):
    school.purge(days=500)
    with school.ctx.sessions() as s:
        ev = s.scalars(select(Event).where(Event.type == PURGE_EVENT)).one()
    assert ev.actor_id is None
    assert ev.payload["counts"]["holdings"] == 1
    assert all(isinstance(v, int) for v in ev.payload["counts"].values())


def test_an_open_holding_and_its_incident_are_never_purged(school):
    c = school.custody
    before = _count(school, Event)  # the set-up's events: staff import, lockers
    school.clock.at(10)
    h, _ = c.confiscate(
        school.staff["office"],
        pupil_id=school.ids[RITA["given"]],
        category="unauthorised_use",
        device_description=RITA["device"],
        switched_off_confirmed=True,
    )
    c.confirm_deposit(school.staff["office"], h.id)
    mark_left(school, pupils=[RITA["given"]], staff=[], days=1)
    report = school.purge(days=10000)
    assert report.holdings == [] and report.incidents == [] and report.kinds["pupils"] == 0
    assert report.kinds["events"] == before  # what came before it; the rest is its history
    assert _count(school, Contact) == 2 and school.chain_ok()


def test_staff_who_left_go_once_no_kept_record_names_them(school):
    mark_left(school, pupils=[], staff=[RITA["teacher_code"]], days=0)
    days = school.ctx.profile.retention.staff_left_days.value
    assert school.purge(days=days - 1).kinds["staff"] == 0
    assert school.purge(days=days).kinds["staff"] == 1
    assert RITA["teacher_badge"] not in school.dump()


# ----------------------------------------------------------------- photos
def test_photo_goes_after_photo_days_while_the_phone_is_still_held(school):
    c = school.custody
    school.clock.at(10)
    h, _ = c.confiscate(
        school.staff["office"],
        pupil_id=school.ids[RITA["given"]],
        category="unauthorised_use",
        device_description="phone",
        switched_off_confirmed=True,
    )
    c.confirm_deposit(school.staff["office"], h.id)
    school.photo_dir.mkdir()
    photo = school.photo_dir / f"holding-{h.id}.jpg"
    photo.write_bytes(b"jpeg")
    c.attach_photo(school.staff["office"], h.id, str(photo))
    days = school.ctx.profile.retention.photo_days.value
    assert school.purge(days=days - 1).photos == [] and photo.exists()
    assert school.purge(days=days).photos == [str(photo)] and not photo.exists()
    assert c.holding(None, h.id).state == "held"
    with school.ctx.sessions() as s:
        assert s.get(Holding, h.id).photo_path is None


def test_photo_files_no_record_names_are_removed(school):
    school.photo_dir.mkdir()
    stray = school.photo_dir / "holding-99.part-abcd.jpg"
    stray.write_bytes(b"jpeg")
    assert school.purge(days=0, dry_run=True).kinds["orphan_photo_files"] == 1
    assert stray.exists()
    assert school.purge(days=0).kinds["orphan_photo_files"] == 1
    assert list(school.photo_dir.iterdir()) == []


# ----------------------------------------------------------------- the chain
def test_verify_detects_deleting_old_events_by_hand_after_a_purge(school, history):
    school.purge(days=3000)
    with school.ctx.sessions.begin() as s:
        first = s.scalars(select(Event).order_by(Event.seq)).first()
        _tamper_delete(s, first)
    with school.ctx.sessions() as s:
        assert "expected seq" in str(verify_chain(s).problem)


def test_verify_detects_a_checkpoint_moved_by_hand(school, history):
    school.purge(days=3000)
    with school.ctx.sessions.begin() as s:
        first = s.scalars(select(Event).order_by(Event.seq)).first()
        cp = s.get(ChainCheckpoint, first.station_id)
        cp.seq, cp.hash = first.seq, first.hash
        _tamper_delete(s, first)
    with school.ctx.sessions() as s:
        assert "not recorded by any retention.purged" in str(verify_chain(s).problem)


def test_verify_still_detects_middle_and_tail_deletions_after_a_purge(school, history):
    school.purge(days=3000)
    # more history after the purge, then delete one in the middle
    rita_exam(school)
    with school.ctx.sessions.begin() as s:
        rows = list(s.scalars(select(Event).order_by(Event.seq)))
        _tamper_delete(s, rows[len(rows) // 2])
    with school.ctx.sessions() as s:
        assert "missing" in str(verify_chain(s).problem)


def test_verify_detects_tail_deletion_after_a_purge(school, history):
    school.purge(days=3000)
    rita_exam(school)
    with school.ctx.sessions.begin() as s:
        last = s.scalars(select(Event).order_by(Event.seq.desc())).first()
        _tamper_delete(s, last)
    with school.ctx.sessions() as s:
        assert "newest events deleted" in str(verify_chain(s).problem)


# ----------------------------------------------------------------- ids never reused
def test_ids_are_not_reused_after_purging_the_newest_holding(school):
    h = rita_routine_confiscation(school)
    with school.ctx.sessions() as s:
        assert h == s.scalar(select(func.max(Holding.id)))  # the newest holding
    r = school.ctx.profile.retention
    assert school.purge(days=r.incident_days.value + 1).holdings == [h]
    with school.ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Holding)) == 0
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
    school.clock.now = T0 + timedelta(days=r.incident_days.value + 2)
    new, _ = school.custody.confiscate(
        school.staff["office"],
        pupil_id=school.ids[SAM["given"]],
        category="unauthorised_use",
        device_description="phone",
        switched_off_confirmed=True,
    )
    assert new.id > h
    with school.ctx.sessions() as s:
        assert s.scalars(select(Incident)).one().id > 1


def test_staff_rows_removed_are_gone_from_the_table(school, history):
    r = school.ctx.profile.retention
    school.purge(days=r.incident_days.value + 1)
    with school.ctx.sessions() as s:
        codes = set(s.scalars(select(Staff.staff_code)))
    assert RITA["teacher_code"] not in codes


# ----------------------------------------------------------------- crash while taking a photo
_CAPTURE = """
import sys
from pathlib import Path
from kiosk.context import open_context
from kiosk.demo import demo_config
from kiosk.photos import take_tray_photo
from hardware.simulator import SimCamera

folder, holding_id = Path(sys.argv[1]), int(sys.argv[2])
ctx = open_context(demo_config(folder))
office = ctx.custody.sign_in("AB000001", "482915")  # the school fixture's PIN (auth_testing)
take_tray_photo(ctx.custody, SimCamera(), folder / "photos", office, holding_id)
print("survived")
"""


def _open_holding(school) -> int:
    school.clock.at(10)
    h, _ = school.custody.confiscate(
        school.staff["office"],
        pupil_id=school.ids[RITA["given"]],
        category="unauthorised_use",
        device_description="phone",
        switched_off_confirmed=True,
    )
    school.custody.confirm_deposit(school.staff["office"], h.id)
    return h.id


def _capture_in_subprocess(school, holding_id: int, crash_at: str | None):
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.run(
        [sys.executable, "-c", _CAPTURE, str(school.folder), str(holding_id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a failure bound only
    )


def _recorded_photo(school, holding_id: int) -> str | None:
    with school.ctx.sessions() as s:
        return s.get(Holding, holding_id).photo_path


@pytest.mark.parametrize("crash_at", ["written", "recorded"])
def test_killed_while_taking_a_photo_then_the_purge_leaves_no_orphan(school, crash_at):
    holding_id = _open_holding(school)
    school.ctx.engine.dispose()  # the child process writes the same database
    done = _capture_in_subprocess(school, holding_id, crash_at)
    assert done.returncode == -signal.SIGKILL, done.stderr
    left = list(school.photo_dir.iterdir())
    assert len(left) == 1 and TEMP_MARK in left[0].name  # the crash left a file behind
    recorded = _recorded_photo(school, holding_id)
    # killed after writing: nothing recorded; killed after recording: the name is recorded
    # but the file never got it
    assert (recorded is None) == (crash_at == "written")
    report = school.purge(days=0)
    assert report.kinds["orphan_photo_files"] == 1
    assert report.kinds["photo_records_without_file"] == (crash_at == "recorded")
    assert list(school.photo_dir.iterdir()) == []
    assert _recorded_photo(school, holding_id) is None
    assert school.chain_ok()


def test_a_photo_taken_without_a_crash_is_recorded_and_kept(school):
    holding_id = _open_holding(school)
    school.ctx.engine.dispose()
    done = _capture_in_subprocess(school, holding_id, None)
    assert done.returncode == 0 and "survived" in done.stdout, done.stderr
    recorded = _recorded_photo(school, holding_id)
    assert recorded and Path(recorded).exists()
    assert school.purge(days=1).total == 0
    assert [p.name for p in school.photo_dir.iterdir()] == [f"holding-{holding_id}.jpg"]


# ----------------------------------------------------------------- minimum data
def test_an_exemption_is_a_category_never_a_diagnosis(school):
    with pytest.raises(MinimumDataError, match="category only"):
        Pupil(mis_id="X", given_name="A", family_name="B", year_group="7", exemptions=["asthma"])
    ok = Pupil(mis_id="X", given_name="A", family_name="B", year_group="7", exemptions=["medical"])
    assert ok.exemptions == ["medical"]


def test_id_seen_is_its_type_never_a_number(school):
    h = rita_routine_confiscation(school)
    with school.ctx.sessions() as s:
        holding = s.get(Holding, h)
        assert holding.id_type_seen == "driving_licence"
        for bad in ("passport 533380006", "MORGA753116SM9IJ", "driving licence"):
            with pytest.raises(MinimumDataError, match="type only"):
                holding.id_type_seen = bad


def test_mis_import_refuses_a_diagnosis_and_reads_birth_dates_and_leavers(school, tmp_path):
    from kiosk.mis_import import ImportRejected, run_import

    bad = tmp_path / "bad.csv"
    bad.write_text("UPN,Forename,Surname,Year,Exemptions\nP1,A,B,7,epilepsy\n")
    with school.ctx.sessions.begin() as s, pytest.raises(ImportRejected, match="epilepsy"):
        run_import(s, "pupils", bad, station_id="demo-office", now=T0)
    roll = tmp_path / "roll.csv"
    roll.write_text(
        f"UPN,Forename,Surname,Year,DOB\n{SAM['mis']},{SAM['given']},{SAM['family']},8,01/03/2012\n"
    )
    with school.ctx.sessions.begin() as s:
        result = run_import(
            s, "pupils", roll, station_id="demo-office", now=T0, deactivate_missing=True
        )
    assert result.deactivated == 1  # Rita is not on the roll: she has left
    with school.ctx.sessions() as s:
        by_mis = {p.mis_id: p for p in s.scalars(select(Pupil))}
    assert by_mis[RITA["mis"]].left_at == T0 and by_mis[SAM["mis"]].left_at is None
    assert by_mis[SAM["mis"]].date_of_birth == SAM_BORN
    bad.write_text("UPN,Forename,Surname,Year,Date of birth\nP1,A,B,7,31/02/2012\n")
    with school.ctx.sessions.begin() as s, pytest.raises(ImportRejected, match="not a date"):
        run_import(s, "pupils", bad, station_id="demo-office", now=T0)


def test_purged_values_are_not_left_in_the_database_files_either(school, history):
    """secure_delete zeroes freed bytes (Debian builds of SQLite default to it; the purge sets
    it anyway); the WAL is checkpointed and emptied after a purge."""
    r = school.ctx.profile.retention
    school.purge(days=r.incident_days.value + 1)
    flush_write_ahead_log(school.ctx.engine)
    raw = b"".join(
        p.read_bytes() for p in school.folder.iterdir() if p.name.startswith("kiosk.db")
    ).lower()
    assert [v for v in RITA.values() if v.lower().encode() in raw] == []
    assert SAM["police"].lower().encode() in raw  # kept, so still there: the search works


# ----------------------------------------------------------------- the DPIA document
def test_the_documents_retention_table_is_the_default_profiles():
    from policies import load_profile
    from policies.profile import RetentionRules

    doc = (Path(__file__).resolve().parents[2] / "docs" / "data-protection.md").read_text(
        encoding="utf-8"
    )
    start, end = "<!-- retention-table:start -->\n", "\n<!-- retention-table:end -->"
    table = doc[doc.index(start) + len(start) : doc.index(end)]
    expected = retention_table(load_profile("default"))
    assert table == expected, "regenerate it: python -m kiosk.retention"
    for key in RetentionRules.__dataclass_fields__:  # every period is in the table
        assert f"`retention.{key}`" in table, key


def test_a_purge_that_finds_nothing_is_still_recorded_and_starts_leavers_clocks(school):
    with school.ctx.sessions.begin() as s:
        s.scalars(
            select(Staff).where(Staff.staff_code == RITA["teacher_code"])
        ).one().active = False  # deactivated before leaving dates were recorded
    assert school.purge(days=0).total == 0
    (payload,) = _purge_events(school)
    assert set(payload["counts"].values()) == {0}
    with school.ctx.sessions() as s:
        leaver = s.scalars(select(Staff).where(Staff.staff_code == RITA["teacher_code"])).one()
        assert leaver.left_at == T0
    days = school.ctx.profile.retention.staff_left_days.value
    assert school.purge(days=days).kinds["staff"] == 1


def test_a_cancellation_reason_stays_off_the_chain_and_goes_with_the_session(school):
    """The reason typed when an exam session is cancelled may name a pupil: it is kept on the
    session row (beside the chain), never in the event payload, and purged with the session
    (DESIGN.md, issue 9: facts by id in the chain)."""
    c, clock = school.custody, school.clock
    clock.at(8, 0)
    sid = c.open_exam_session(
        school.staff["exams"],
        name=RITA["exam"],
        starts_at=T0.replace(hour=9),
        ends_at=T0.replace(hour=10),
        candidate_ids=[school.ids[RITA["given"]]],
    )
    why = f"{RITA['given']} {RITA['family']} is in hospital, paper moved"
    c.cancel_exam_session(school.staff["exams"], sid, why)
    with school.ctx.sessions() as s:
        payloads = " ".join(str(e.payload) for e in s.scalars(select(Event)))
        assert s.get(ExamSession, sid).cancel_reason == why
    assert RITA["family"] not in payloads and "hospital" not in payloads
    r = school.ctx.profile.retention
    assert school.purge(days=r.exam_session_days.value + 1).kinds["exam_sessions"] == 1
    assert "hospital" not in school.dump() and school.chain_ok()
