"""The exam rush's fast path (issue 15): one use-case per candidate at the hatch, plain
statements instead of ORM objects, and the same ledger as the use-cases it replaces.

What must not change: the checks (stranger, second deposit, cabinet under test), the
lowest free pouch, the views the screens show, one chained event with its outbox row per
step, and ``audit verify`` passing afterwards.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from kiosk_testing import T0
from sqlalchemy import select, update

from db.audit import verify_chain
from db.models import Event, ExamSession, ExamSessionState, Holding, Locker, Pupil
from kiosk.custody import CustodyError, PolicyRefused


def _session(demo) -> int:
    return next(s for s in demo.custody.exam_sessions()).id


def _card(demo, name: str) -> str:
    with demo.ctx.sessions() as s:
        uid = s.scalar(select(Pupil.card_uid).where(Pupil.id == demo.pupils[name]))
    assert uid
    return uid


def _last_event(demo) -> Event:
    with demo.ctx.sessions() as s:
        event = s.scalars(select(Event).order_by(Event.id.desc()).limit(1)).one()
        s.expunge(event)
        return event


def test_deposit_by_card_gives_what_the_three_calls_gave(demo):
    sid, harry = _session(demo), demo.pupils["Harry"]
    with demo.ctx.sessions.begin() as s:
        s.get(Pupil, harry).candidate_number = "4321"
    before = demo.counts()
    done = demo.custody.exam_deposit_by_card(
        None,
        session_id=sid,
        card_uid=_card(demo, "Harry").lower(),
        switched_off_confirmed_by=demo.staff["exams"].staff_id,
    )
    assert done is not None
    assert done.candidate_number == demo.custody.candidate_number(harry) == "4321"
    card = demo.custody.pupil_by_card(None, _card(demo, "Harry"))
    assert (done.pupil.id, done.pupil.name, done.pupil.tutor_group) == (
        card.id,
        card.name,
        card.tutor_group,
    )
    # The exam view of a candidate: no card, no adjustments, no contacts (issue 9).
    assert (done.pupil.card_uid, done.pupil.exemptions, done.pupil.contacts) == (None, (), ())
    # The view built from the columns is the view a fresh read of the holding gives.
    assert done.holding == demo.custody.holding(None, done.holding.id)
    assert (done.holding.locker, done.holding.pouch_number, done.holding.state) == (
        "B4",
        4,
        "depositing",
    )
    assert demo.counts() == (before[0] + 1, before[1] + 1)  # one event, its outbox row
    event = _last_event(demo)
    assert (event.type, event.holding_id, event.actor_id) == (
        "holding.depositing",
        done.holding.id,
        None,
    )
    assert event.payload == {
        "kind": "exam_deposit",
        "session_id": sid,
        "pouch": 4,
        "pupil_id": harry,
        "locker_id": next(lk.id for lk in demo.custody.lockers() if lk.label == "B4"),
        "switched_off_confirmed_by": demo.staff["exams"].staff_id,
    }


def test_deposit_by_card_refuses_like_exam_deposit_and_writes_nothing(demo):
    sid = _session(demo)
    before = demo.counts()
    assert demo.custody.exam_deposit_by_card(None, session_id=sid, card_uid="FFFF0000") is None
    with pytest.raises(CustodyError, match="not a candidate"):
        demo.custody.exam_deposit_by_card(
            None,
            session_id=sid,
            card_uid=_card(demo, "Amara"),
            switched_off_confirmed_by=demo.staff["exams"].staff_id,
        )
    with pytest.raises(CustodyError, match=r"already deposited \(pouch 1\)"):
        demo.custody.exam_deposit_by_card(
            None,
            session_id=sid,
            card_uid=_card(demo, "Ella"),
            switched_off_confirmed_by=demo.staff["exams"].staff_id,
        )
    with pytest.raises(CustodyError, match="No exam session"):
        demo.custody.exam_deposit_by_card(
            None,
            session_id=10**6,
            card_uid=_card(demo, "Harry"),
            switched_off_confirmed_by=demo.staff["exams"].staff_id,
        )
    assert demo.counts() == before


def test_a_staff_badge_is_not_a_pupil_even_after_the_session_ended(demo):
    """The screen sends a card that is not a pupil's to sign-in (the officer leaving
    self-service): that must not depend on the session still taking deposits."""
    sid = _session(demo)
    demo.custody.end_exam_session(demo.staff["exams"], sid)
    assert demo.custody.exam_deposit_by_card(None, session_id=sid, card_uid="AB000004") is None
    with pytest.raises(PolicyRefused):
        demo.custody.exam_deposit_by_card(
            None,
            session_id=sid,
            card_uid=_card(demo, "Harry"),
            switched_off_confirmed_by=demo.staff["exams"].staff_id,
        )


def test_the_lowest_free_pouch_is_given_after_a_gap(demo):
    """Pouches 1-3 are taken in the demo; an aborted deposit frees its pouch for the next
    candidate, and after the gap is filled the count-and-maximum shortcut gives max + 1."""
    sid = _session(demo)
    harry = demo.custody.exam_deposit(
        None,
        session_id=sid,
        pupil_id=demo.pupils["Harry"],
        switched_off_confirmed_by=demo.staff["exams"].staff_id,
    )
    isla = demo.custody.exam_deposit(
        None,
        session_id=sid,
        pupil_id=demo.pupils["Isla"],
        switched_off_confirmed_by=demo.staff["exams"].staff_id,
    )
    assert (harry.pouch_number, isla.pouch_number) == (4, 5)
    demo.custody.abort_deposit(None, harry.id, "walked away")  # pouch 4 is free again
    chloe = demo.custody.exam_deposit(
        None,
        session_id=sid,
        pupil_id=demo.pupils["Chloe"],
        switched_off_confirmed_by=demo.staff["exams"].staff_id,
    )
    assert chloe.pouch_number == 4
    again = demo.custody.exam_deposit(
        None,
        session_id=sid,
        pupil_id=demo.pupils["Harry"],
        switched_off_confirmed_by=demo.staff["exams"].staff_id,
    )
    assert again.pouch_number == 6


def test_confirm_gives_the_view_a_fresh_read_gives_for_every_kind(demo):
    sid = _session(demo)
    pouch = demo.custody.exam_deposit(
        None,
        session_id=sid,
        pupil_id=demo.pupils["Harry"],
        switched_off_confirmed_by=demo.staff["exams"].staff_id,
    )
    held = demo.custody.confirm_deposit(None, pouch.id)
    assert held.state == "held" and held.held_at is not None
    assert held == demo.custody.holding(None, pouch.id)
    phone, _ = demo.custody.confiscate(
        demo.staff["office"],
        pupil_id=demo.pupils["Jack"],
        category="unauthorised_use",
        device_description="grey phone",
        switched_off_confirmed=True,
    )
    held = demo.custody.confirm_deposit(demo.staff["office"], phone.id)
    assert held == demo.custody.holding(demo.staff["office"], phone.id)
    event = _last_event(demo)
    assert (event.type, event.holding_id, event.payload["previous"]) == (
        "holding.held",
        phone.id,
        "depositing",
    )


def test_confirm_twice_is_refused_and_writes_nothing(demo):
    sid = _session(demo)
    pouch = demo.custody.exam_deposit(
        None,
        session_id=sid,
        pupil_id=demo.pupils["Harry"],
        switched_off_confirmed_by=demo.staff["exams"].staff_id,
    )
    demo.custody.confirm_deposit(None, pouch.id)
    before = demo.counts()
    with pytest.raises(CustodyError, match="is held; it cannot become held"):
        demo.custody.confirm_deposit(None, pouch.id)
    with pytest.raises(CustodyError, match="No holding"):
        demo.custody.confirm_deposit(None, 10**6)
    assert demo.counts() == before


def test_a_rush_and_its_hand_back_leave_a_chain_that_verifies(demo):
    sid = _session(demo)
    for name in ("Harry", "Isla", "Chloe"):
        done = demo.custody.exam_deposit_by_card(
            None,
            session_id=sid,
            card_uid=_card(demo, name),
            switched_off_confirmed_by=demo.staff["exams"].staff_id,
        )
        assert done is not None
        demo.custody.confirm_deposit(None, done.holding.id)
    demo.custody.end_exam_session(demo.staff["exams"], sid)
    assert len(demo.custody.begin_exam_session_release(demo.staff["exams"], sid)) == 6
    demo.custody.complete_exam_session_release(demo.staff["exams"], sid)
    with demo.ctx.sessions() as s:
        report = verify_chain(s)
    assert report.ok, report.problem
    assert demo.counts()[0] == demo.counts()[1]


def test_a_session_without_a_cabinet_is_refused_in_words(demo):
    """``kiosk import exams`` opens sessions with no cabinet (the officer picks one later);
    a candidate tapping in before then gets a refusal to act on, not a crash."""
    with demo.ctx.sessions.begin() as s:
        imported = ExamSession(
            name="GCSE Maths Paper 2",
            starts_at=T0,
            ends_at=T0 + timedelta(hours=2),
            locker_id=None,
            state=ExamSessionState.OPEN,
            candidates=[demo.pupils["Harry"]],
        )
        s.add(imported)
        s.flush()
        sid = imported.id
    before = demo.counts()
    with pytest.raises(CustodyError, match="no cabinet"):
        demo.custody.exam_deposit_by_card(
            None,
            session_id=sid,
            card_uid=_card(demo, "Harry"),
            switched_off_confirmed_by=demo.staff["exams"].staff_id,
        )
    with pytest.raises(CustodyError, match="no cabinet"):
        demo.custody.exam_deposit(
            None,
            session_id=sid,
            pupil_id=demo.pupils["Harry"],
            switched_off_confirmed_by=demo.staff["exams"].staff_id,
        )
    assert demo.counts() == before


def test_a_phone_without_a_pouch_number_in_the_cabinet_does_not_hide_a_gap(demo):
    """The count-and-maximum shortcut counts numbered pouches only: a holding put in the
    cabinet by locker id (a confiscation through the API, before the use-case refused a
    cabinet for one phone: it is still in cabinets deposited then) has no pouch number, and
    counting it made {no number, 2} look like "1 and 2 taken", so pouch 3 was given while 1
    was free."""
    sid, exams = _session(demo), demo.staff["exams"]
    demo.custody.end_exam_session(exams, sid)
    demo.custody.begin_exam_session_release(exams, sid)
    demo.custody.complete_exam_session_release(exams, sid)  # cabinet B4 is free again
    cabinet = next(lk for lk in demo.custody.lockers() if lk.label == "B4")
    sid = demo.custody.open_exam_session(
        exams,
        name="GCSE Maths Paper 2",
        starts_at=T0,
        ends_at=T0 + timedelta(hours=2),
        locker_id=cabinet.id,
        candidate_ids=[demo.pupils[n] for n in ("Harry", "Isla", "Chloe")],
    )
    phone, _ = demo.custody.confiscate(
        demo.staff["office"],
        pupil_id=demo.pupils["Jack"],
        category="unauthorised_use",
        device_description="grey phone",
        switched_off_confirmed=True,
    )
    with demo.ctx.sessions.begin() as s:  # where an older version put it
        s.execute(update(Holding).where(Holding.id == phone.id).values(locker_id=cabinet.id))
    assert demo.custody.holding(None, phone.id).locker == "B4"
    assert phone.pouch_number is None
    harry = demo.custody.exam_deposit(
        None,
        session_id=sid,
        pupil_id=demo.pupils["Harry"],
        switched_off_confirmed_by=demo.staff["exams"].staff_id,
    )
    isla = demo.custody.exam_deposit(
        None,
        session_id=sid,
        pupil_id=demo.pupils["Isla"],
        switched_off_confirmed_by=demo.staff["exams"].staff_id,
    )
    assert (harry.pouch_number, isla.pouch_number) == (1, 2)
    demo.custody.abort_deposit(None, harry.id, "walked away")  # pouch 1 is free again
    chloe = demo.custody.exam_deposit(
        None,
        session_id=sid,
        pupil_id=demo.pupils["Chloe"],
        switched_off_confirmed_by=demo.staff["exams"].staff_id,
    )
    assert chloe.pouch_number == 1


def test_a_full_cabinet_and_one_made_smaller_under_its_pouches(demo):
    """Full: refused. A cabinet whose capacity the config lowered below the pouches already
    in it (``kiosk lockers sync`` resizes it) is full too, a pouch freed below the new
    capacity is given again, and a number above the capacity never is."""
    sid = _session(demo)  # pouches 1-3 of B4 are taken

    def capacity(n: int) -> None:
        with demo.ctx.sessions.begin() as s:
            s.execute(
                update(Locker).where(Locker.bank == "B", Locker.number == 4).values(capacity=n)
            )

    def deposit(name: str):
        return demo.custody.exam_deposit(
            None,
            session_id=sid,
            pupil_id=demo.pupils[name],
            switched_off_confirmed_by=demo.staff["exams"].staff_id,
        )

    capacity(5)
    harry, isla = deposit("Harry"), deposit("Isla")
    assert (harry.pouch_number, isla.pouch_number) == (4, 5)
    with pytest.raises(CustodyError, match="B4 is full"):
        deposit("Chloe")
    capacity(4)  # pouches 1-5 in use
    with pytest.raises(CustodyError, match="B4 is full"):
        deposit("Chloe")
    demo.custody.abort_deposit(None, harry.id, "walked away")  # 1-3 and 5 in use
    assert deposit("Chloe").pouch_number == 4
    demo.custody.abort_deposit(None, isla.id, "walked away")  # 1-4 in use: full at 4
    with pytest.raises(CustodyError, match="B4 is full"):
        deposit("Harry")
