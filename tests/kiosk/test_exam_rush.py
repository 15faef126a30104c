"""The exam rush's fast path (issue 15): one use-case per candidate at the hatch, plain
statements instead of ORM objects, and the same ledger as the use-cases it replaces.

What must not change: the checks (stranger, second deposit, cabinet under test), the
lowest free pouch, the views the screens show, one chained event with its outbox row per
step, and ``audit verify`` passing afterwards.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.audit import verify_chain
from db.models import Event, Pupil
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
        None, session_id=sid, card_uid=_card(demo, "Harry").lower()
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
        "locker_id": event.payload["locker_id"],
    }


def test_deposit_by_card_refuses_like_exam_deposit_and_writes_nothing(demo):
    sid = _session(demo)
    before = demo.counts()
    assert demo.custody.exam_deposit_by_card(None, session_id=sid, card_uid="FFFF0000") is None
    with pytest.raises(CustodyError, match="not a candidate"):
        demo.custody.exam_deposit_by_card(None, session_id=sid, card_uid=_card(demo, "Amara"))
    with pytest.raises(CustodyError, match=r"already deposited \(pouch 1\)"):
        demo.custody.exam_deposit_by_card(None, session_id=sid, card_uid=_card(demo, "Ella"))
    with pytest.raises(CustodyError, match="No exam session"):
        demo.custody.exam_deposit_by_card(None, session_id=10**6, card_uid=_card(demo, "Harry"))
    assert demo.counts() == before


def test_a_staff_badge_is_not_a_pupil_even_after_the_session_ended(demo):
    """The screen sends a card that is not a pupil's to sign-in (the officer leaving
    self-service): that must not depend on the session still taking deposits."""
    sid = _session(demo)
    demo.custody.end_exam_session(demo.staff["exams"], sid)
    assert demo.custody.exam_deposit_by_card(None, session_id=sid, card_uid="AB000004") is None
    with pytest.raises(PolicyRefused):
        demo.custody.exam_deposit_by_card(None, session_id=sid, card_uid=_card(demo, "Harry"))


def test_the_lowest_free_pouch_is_given_after_a_gap(demo):
    """Pouches 1-3 are taken in the demo; an aborted deposit frees its pouch for the next
    candidate, and after the gap is filled the count-and-maximum shortcut gives max + 1."""
    sid = _session(demo)
    harry = demo.custody.exam_deposit(None, session_id=sid, pupil_id=demo.pupils["Harry"])
    isla = demo.custody.exam_deposit(None, session_id=sid, pupil_id=demo.pupils["Isla"])
    assert (harry.pouch_number, isla.pouch_number) == (4, 5)
    demo.custody.abort_deposit(None, harry.id, "walked away")  # pouch 4 is free again
    chloe = demo.custody.exam_deposit(None, session_id=sid, pupil_id=demo.pupils["Chloe"])
    assert chloe.pouch_number == 4
    again = demo.custody.exam_deposit(None, session_id=sid, pupil_id=demo.pupils["Harry"])
    assert again.pouch_number == 6


def test_confirm_gives_the_view_a_fresh_read_gives_for_every_kind(demo):
    sid = _session(demo)
    pouch = demo.custody.exam_deposit(None, session_id=sid, pupil_id=demo.pupils["Harry"])
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
    pouch = demo.custody.exam_deposit(None, session_id=sid, pupil_id=demo.pupils["Harry"])
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
        done = demo.custody.exam_deposit_by_card(None, session_id=sid, card_uid=_card(demo, name))
        assert done is not None
        demo.custody.confirm_deposit(None, done.holding.id)
    demo.custody.end_exam_session(demo.staff["exams"], sid)
    assert len(demo.custody.begin_exam_session_release(demo.staff["exams"], sid)) == 6
    demo.custody.complete_exam_session_release(demo.staff["exams"], sid)
    with demo.ctx.sessions() as s:
        report = verify_chain(s)
    assert report.ok, report.problem
    assert demo.counts()[0] == demo.counts()[1]
