"""Exam sessions by the exams officer (create, edit, cancel) and ``kiosk import exams``."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import Event, ExamSession, Locker, Pupil
from kiosk.auth import NotPermitted
from kiosk.custody import CustodyError
from kiosk.exam_import import import_exams
from kiosk.mis_import import ImportRejected, run_import
from kiosk.usecases.exam_admin import ExamFieldError

DAY = date(2026, 11, 18)


def _cabinet(demo) -> int:
    """A second exam cabinet (the demo's B4 is in use by its own session)."""
    with demo.ctx.sessions.begin() as s:
        locker = Locker(bank="C", number=1, capacity=20)
        s.add(locker)
        s.flush()
        return locker.id


def _events(demo, type_: str) -> list[Event]:
    with demo.ctx.sessions() as s:
        return list(s.scalars(select(Event).where(Event.type == type_)))


def _create(demo, **kw):
    args = dict(
        paper="GCSE Maths Paper 1",
        day=DAY,
        start=time(9, 0),
        end=time(10, 30),
        cabinet_id=_cabinet(demo),
        candidate_ids=[demo.pupils["Amara"], demo.pupils["Ben"]],
        room="Hall",
    )
    args.update(kw)
    return demo.custody.create_exam_session(demo.staff["exams"], **args)


def test_exams_officer_creates_edits_and_cancels_a_session(demo):
    sid = _create(demo)
    with demo.ctx.sessions() as s:
        e = s.get(ExamSession, sid)
        assert (e.name, e.room, e.state, len(e.candidates)) == (
            "GCSE Maths Paper 1",
            "Hall",
            "open",
            2,
        )
        assert demo.custody._local(e.starts_at).time() == time(9, 0)
    demo.custody.edit_exam_session(
        demo.staff["exams"], sid, end=time(11, 0), candidate_ids=[demo.pupils["Amara"]]
    )
    (edited,) = _events(demo, "exam.edited")
    assert edited.payload["changed"] == ["times", "candidates"]
    with pytest.raises(CustodyError, match="end after"):
        demo.custody.edit_exam_session(demo.staff["exams"], sid, end=time(8, 0))
    demo.custody.cancel_exam_session(demo.staff["exams"], sid, "paper moved to June")
    with demo.ctx.sessions() as s:
        assert s.get(ExamSession, sid).state == "cancelled"
    # The typed reason is beside the chain (on the session row), the event has ids only.
    assert _events(demo, "exam.cancelled")[0].payload == {"session_id": sid}
    with demo.ctx.sessions() as s:
        assert s.get(ExamSession, sid).cancel_reason == "paper moved to June"
    with pytest.raises(CustodyError, match="cannot be cancelled"):
        demo.custody.cancel_exam_session(demo.staff["exams"], sid, "again")


def test_only_the_exam_session_permission_may_create(demo):
    with pytest.raises(NotPermitted):
        demo.custody.create_exam_session(
            demo.staff["teacher"], paper="X", day=DAY, start=time(9), end=time(10)
        )


def test_cancel_refused_while_pouches_are_inside(demo):
    sid = next(s for s in demo.custody.exam_sessions()).id  # the demo's, 3 deposited
    before = demo.counts()
    with pytest.raises(CustodyError, match="still in"):
        demo.custody.cancel_exam_session(demo.staff["exams"], sid, "fire alarm")
    assert demo.counts() == before
    with demo.ctx.sessions() as s:
        assert s.get(ExamSession, sid).state == "open"


def _csv(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "entries.csv"
    path.write_text("Candidate Number,UPN,Paper,Start,End,Room\n" + body, encoding="utf-8")
    return path


def _import(demo, path: Path):
    with demo.ctx.sessions.begin() as s:
        return run_import(s, "exams", path, station_id="test", now=demo.clock())


def _snapshot(demo):
    with demo.ctx.sessions() as s:
        return (
            demo.counts(),
            s.scalar(select(func.count(ExamSession.id))),
            sorted((p.mis_id, p.candidate_number) for p in s.scalars(select(Pupil))),
        )


def test_import_groups_entries_into_sessions_by_paper_and_start(demo, tmp_path):
    path = _csv(
        tmp_path,
        "0101,A100000000001,GCSE Biology 1,2026-11-19 09:00,10:45,Hall\n"
        "0102,A100000000002,GCSE Biology 1,2026-11-19 09:00,10:45,Hall\n"
        "0101,A100000000001,GCSE French 2,2026-11-19 13:30,2026-11-19 14:30,Gym\n",
    )
    result = _import(demo, path)
    assert (result.added, result.updated) == (2, 0)
    with demo.ctx.sessions() as s:
        bio = s.scalars(select(ExamSession).where(ExamSession.name == "GCSE Biology 1")).one()
        assert sorted(bio.candidates) == sorted([demo.pupils["Amara"], demo.pupils["Ben"]])
        assert demo.custody._local(bio.ends_at).time() == time(10, 45)
        assert s.get(Pupil, demo.pupils["Amara"]).candidate_number == "0101"
    assert demo.custody.candidate_number(demo.pupils["Ben"]) == "0102"
    assert _import(demo, path).updated == 2  # re-import: same sessions, nothing new


def test_import_names_bad_rows_by_line_and_changes_nothing(demo, tmp_path):
    path = _csv(
        tmp_path,
        "0101,A100000000001,GCSE Biology 1,2026-11-19 09:00,10:45,Hall\n"
        "0102,NOPE,GCSE Biology 1,2026-11-19 09:00,10:45,Hall\n"
        "0103,A100000000003,GCSE Biology 1,tomorrow,10:45,Hall\n"
        "0101,A100000000004,GCSE Biology 1,2026-11-19 09:00,10:45,Hall\n",
    )
    before = _snapshot(demo)
    with pytest.raises(ImportRejected) as exc:
        _import(demo, path)
    text = str(exc.value)
    assert "line 3, column 'UPN': no pupil with MIS id 'NOPE'" in text
    assert "line 4, column 'Start'" in text
    assert "line 5" in text and "also given to" in text
    assert "line 2" not in text
    assert _snapshot(demo) == before


def test_import_exams_via_importer_requires_exam_permission(demo, tmp_path):
    path = _csv(tmp_path, "0101,A100000000001,P,2026-11-19 09:00,10:45,Hall\n")
    with demo.ctx.sessions.begin() as s, pytest.raises(NotPermitted):
        import_exams(s, path, actor=demo.staff["teacher"])


@pytest.mark.parametrize(
    ("kw", "field", "words"),
    [
        ({"paper": "  "}, "paper", "Name the paper"),
        ({"start": time(11, 0), "end": time(10, 0)}, "end", "end after it starts"),
        ({"candidate_ids": [10**6]}, "candidates", "No pupil with id"),
    ],
)
def test_refusals_name_the_form_field_they_are_about(demo, kw, field, words):
    """The session form shows each refusal next to its field (issue 14)."""
    with pytest.raises(ExamFieldError, match=words) as caught:
        _create(demo, **kw)
    assert caught.value.field == field


def test_a_cabinet_in_use_is_a_refusal_about_the_cabinet(demo):
    with demo.ctx.sessions() as s:
        b4 = s.scalars(select(Locker.id).where(Locker.bank == "B", Locker.number == 4)).one()
    with pytest.raises(ExamFieldError, match="still in use") as caught:
        _create(demo, cabinet_id=b4)  # B4 holds the demo session's pouches
    assert caught.value.field == "cabinet"
    with demo.ctx.sessions() as s:
        c1 = s.scalars(select(Locker.id).where(Locker.bank == "C", Locker.number == 1)).one()
    sid = demo.custody.create_exam_session(
        demo.staff["exams"], paper="Latin", day=DAY, start=time(9), end=time(10), cabinet_id=c1
    )
    with pytest.raises(ExamFieldError) as caught:
        demo.custody.cancel_exam_session(demo.staff["exams"], sid, "  ")
    assert caught.value.field == "why"


def test_a_cabinet_under_a_technicians_test_takes_no_pouch(demo):
    """The test pulse's reservation (``testing``) holds for exam cabinets too: a candidate's
    deposit between the check and the pulse is refused, and accepted once the test ends."""
    from kiosk.custody import HardwareLog

    sid = _create(demo)
    with demo.ctx.sessions() as s:
        cabinet = s.get(Locker, s.get(ExamSession, sid).locker_id)
        bank, number = cabinet.bank, cabinet.number
    log, tech = HardwareLog(demo.custody), demo.staff["technician"]
    previous = log.begin_test_unlock(tech, bank, number)
    with pytest.raises(CustodyError, match="being tested"):
        demo.custody.exam_deposit(
            None,
            session_id=sid,
            pupil_id=demo.pupils["Amara"],
            switched_off_confirmed_by=demo.staff["exams"].staff_id,
        )
    log.end_test_unlock(tech, bank, number, previous, "opened")
    h = demo.custody.exam_deposit(
        None,
        session_id=sid,
        pupil_id=demo.pupils["Amara"],
        switched_off_confirmed_by=demo.staff["exams"].staff_id,
    )
    assert h is not None
