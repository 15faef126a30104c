"""What the use-cases refuse whatever screen asks: a faulty cabinet, a cabinet for one phone,
a pupil who has left. The rule lives here, not in the TUI's choices (DESIGN.md "Layers":
the TUI decides nothing about holdings, doors or locks)."""

from __future__ import annotations

import pytest

from db.models import Locker, LockerState, Pupil
from kiosk.custody import CustodyError


def _session(demo) -> int:
    return next(s for s in demo.custody.exam_sessions()).id


def _cabinet(demo):
    return next(x for x in demo.custody.lockers() if x.capacity > 1)


def _set_cabinet_state(demo, state: LockerState) -> None:
    with demo.ctx.sessions.begin() as s:
        s.get(Locker, _cabinet(demo).id).state = state


def _officer(demo) -> int:
    """The exams officer who confirmed the phones are switched off (profile rule)."""
    return int(demo.staff["exams"].staff_id)


def _mark_left(demo, pupil: str) -> None:
    with demo.ctx.sessions.begin() as s:
        s.get(Pupil, demo.pupils[pupil]).left_at = demo.clock()


def test_exam_deposit_into_a_cabinet_whose_door_did_not_open_is_refused(demo):
    """The cabinet marked ``fault`` by an aborted deposit (the door did not open) stays a
    fault: the next candidate's deposit is refused in words, not turned into ``occupied``."""
    sid = _session(demo)
    d = demo.custody.exam_deposit(
        None,
        session_id=sid,
        pupil_id=demo.pupils["Harry"],
        switched_off_confirmed_by=_officer(demo),
    )
    demo.custody.abort_deposit(None, d.id, "door did not open", locker_fault="did_not_open")
    assert _cabinet(demo).state == LockerState.FAULT
    before = demo.counts()
    with pytest.raises(CustodyError, match=r"fault.*another cabinet.*technician"):
        demo.custody.exam_deposit(
            None,
            session_id=sid,
            pupil_id=demo.pupils["Harry"],
            switched_off_confirmed_by=_officer(demo),
        )
    assert _cabinet(demo).state == LockerState.FAULT
    assert demo.counts() == before


def test_exam_deposit_into_a_cabinet_out_of_service_is_refused(demo):
    sid = _session(demo)
    _set_cabinet_state(demo, LockerState.OUT_OF_SERVICE)
    with pytest.raises(CustodyError, match=r"out of service.*another cabinet"):
        demo.custody.exam_deposit(
            None,
            session_id=sid,
            pupil_id=demo.pupils["Harry"],
            switched_off_confirmed_by=_officer(demo),
        )
    assert _cabinet(demo).state == LockerState.OUT_OF_SERVICE


def _open_session(demo, **kw) -> int:
    return demo.custody.open_exam_session(
        demo.staff["exams"],
        name="Maths Paper 2",
        starts_at=demo.clock().replace(hour=15, minute=0),
        ends_at=demo.clock().replace(hour=16, minute=30),
        **kw,
    )


@pytest.mark.parametrize("state", [LockerState.FAULT, LockerState.OUT_OF_SERVICE])
def test_no_exam_session_is_opened_on_a_cabinet_that_is_not_working(demo, state):
    """open_exam_session used to pick the first free cabinet whatever its state: every
    deposit into it was then refused. Chosen or picked, a faulty cabinet is refused in words."""
    cabinet = _empty_the_cabinet(demo)
    _set_cabinet_state(demo, state)
    before = demo.counts()
    for kw in ({}, {"locker_id": cabinet}):
        with pytest.raises(CustodyError, match=rf"No working exam cabinet: B4 is marked {state}"):
            _open_session(demo, **kw)
    assert demo.counts() == before


def test_a_new_exam_session_skips_a_faulty_cabinet_for_a_working_one(demo):
    cabinet = _empty_the_cabinet(demo)
    _set_cabinet_state(demo, LockerState.FAULT)
    with demo.ctx.sessions.begin() as s:
        s.add(Locker(bank="B", number=9, capacity=20, state=LockerState.FREE))
    sid = _open_session(demo)
    chosen = next(e for e in demo.custody.exam_sessions() if e.id == sid)
    assert chosen.cabinet == "B9"
    assert chosen.locker_id != cabinet  # the faulty B4 was passed over


def test_an_exam_session_is_not_moved_to_a_cabinet_that_is_not_working(demo):
    """The same rule when the exams officer edits the session's cabinet."""
    cabinet = _empty_the_cabinet(demo)
    sid = _open_session(demo)
    with demo.ctx.sessions.begin() as s:
        broken = Locker(bank="B", number=9, capacity=20, state=LockerState.FAULT)
        s.add(broken)
        s.flush()
        broken_id = broken.id
    before = demo.counts()
    with pytest.raises(CustodyError, match=r"Cabinet B9 is marked fault.*technician"):
        demo.custody.edit_exam_session(demo.staff["exams"], sid, cabinet_id=broken_id)
    assert demo.counts() == before
    moved = next(e for e in demo.custody.exam_sessions() if e.id == sid)
    assert moved.locker_id == cabinet


def _empty_the_cabinet(demo) -> int:
    sid = _session(demo)
    demo.clock.at(14, 0)
    demo.custody.end_exam_session(demo.staff["exams"], sid)
    demo.custody.begin_exam_session_release(demo.staff["exams"], sid)
    demo.custody.complete_exam_session_release(demo.staff["exams"], sid)
    cabinet = _cabinet(demo)
    assert cabinet.state == LockerState.FREE
    return cabinet.id


def test_a_free_exam_cabinet_is_refused_for_a_confiscation(demo):
    cabinet = _empty_the_cabinet(demo)
    before = demo.counts()
    with pytest.raises(CustodyError, match=r"exam cabinet.*single locker"):
        demo.custody.confiscate(
            demo.staff["office"],
            pupil_id=demo.pupils["Jack"],
            category="unauthorised_use",
            device_description="grey phone",
            switched_off_confirmed=True,
            locker_id=cabinet,
        )
    with pytest.raises(CustodyError, match=r"exam cabinet.*single locker"):
        demo.custody.safekeeping(
            demo.staff["office"],
            pupil_id=demo.pupils["Jack"],
            device_description="phone",
            switched_off_confirmed=True,
            locker_id=cabinet,
        )
    assert demo.counts() == before
    assert _cabinet(demo).state == LockerState.FREE


def test_a_pupil_who_has_left_cannot_deposit_an_exam_phone(demo):
    sid = _session(demo)
    _mark_left(demo, "Harry")
    before = demo.counts()
    with pytest.raises(CustodyError, match=r"left the school.*MIS"):
        demo.custody.exam_deposit(
            None,
            session_id=sid,
            pupil_id=demo.pupils["Harry"],
            switched_off_confirmed_by=_officer(demo),
        )
    assert demo.counts() == before


def test_a_pupil_who_has_left_cannot_hand_a_phone_in(demo):
    _mark_left(demo, "Jack")
    with pytest.raises(CustodyError, match=r"left the school.*MIS"):
        demo.custody.safekeeping(
            demo.staff["office"],
            pupil_id=demo.pupils["Jack"],
            device_description="phone",
            switched_off_confirmed=True,
        )


def test_a_phone_taken_from_a_pupil_marked_as_left_is_still_confiscated(demo):
    """The phone is in the office's hands: it must be held securely whatever the MIS says
    (seed 000 "Mobile phones"), so a confiscation is not refused."""
    _mark_left(demo, "Jack")
    h, _ = demo.custody.confiscate(
        demo.staff["office"],
        pupil_id=demo.pupils["Jack"],
        category="unauthorised_use",
        device_description="grey phone",
        switched_off_confirmed=True,
    )
    assert h.state == "depositing"


@pytest.mark.postgres
def test_two_taps_of_one_card_at_once_on_postgres_take_one_pouch(pg_demo):
    """Two deposits of one candidate into one session at once (two stations, or a retry
    while the first tap is still in flight) on PostgreSQL: the second must wait for the
    first and then be refused as "already deposited", not take a second pouch.

    Why it needs the cabinet's lock: under READ COMMITTED each statement sees what was
    committed when it started, so an "already deposited?" asked before the second deposit
    waits on the cabinet row (``_CABINET_FOR_UPDATE``) sees no deposit while the first is
    uncommitted, and after the wait nothing asks again. Asked under the lock, it runs after
    the first's commit and sees its pouch (kiosk/usecases/exams.py ``_pouch_deposit``).

    The first deposit is held before its commit by a ``before_commit`` hook on the station's
    session factory (no product seam); the second is seen waiting on a lock in
    ``pg_stat_activity`` before the first is let go. Threads hand over with events.
    """
    import threading

    from pg_testing import BOUND_S, waits_on_lock
    from sqlalchemy import event, func, select

    from db.audit import verify_chain
    from db.models import OPEN_STATES, Holding

    demo = pg_demo
    assert demo.ctx.engine.dialect.name == "postgresql"
    sid, harry = _session(demo), demo.pupils["Harry"]
    bound = BOUND_S
    inserted, commit, pid_known = threading.Event(), threading.Event(), threading.Event()
    pids: list[int] = []
    pouches: dict[str, int] = {}
    refusals: list[CustodyError] = []
    errors: list[BaseException] = []

    def hold_first(session) -> None:  # before_commit: the first deposit's rows are written
        if threading.current_thread().name == "first":
            inserted.set()
            assert commit.wait(bound)

    def note_second(session, transaction, connection) -> None:  # after_begin
        if threading.current_thread().name == "second":
            pids.append(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            pid_known.set()

    def deposit(who: str) -> None:
        try:
            pouches[who] = demo.custody.exam_deposit(
                None, session_id=sid, pupil_id=harry, switched_off_confirmed_by=_officer(demo)
            ).pouch_number
        except CustodyError as exc:
            refusals.append(exc)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            inserted.set()
            pid_known.set()

    event.listen(demo.ctx.sessions, "before_commit", hold_first)
    event.listen(demo.ctx.sessions, "after_begin", note_second)
    try:
        a = threading.Thread(target=deposit, args=("first",), name="first")
        a.start()
        assert inserted.wait(bound)
        b = threading.Thread(target=deposit, args=("second",), name="second")
        b.start()
        assert pid_known.wait(bound) and pids, errors
        waited = waits_on_lock(demo.ctx.engine, pids[0])
        commit.set()
        a.join(bound)
        b.join(bound)
    finally:
        commit.set()
        event.remove(demo.ctx.sessions, "before_commit", hold_first)
        event.remove(demo.ctx.sessions, "after_begin", note_second)
    assert not errors, errors
    assert waited, "the second deposit did not wait for the first"
    assert "first" in pouches, refusals
    assert "second" not in pouches, f"both taps took a pouch: {pouches}"
    assert [str(r) for r in refusals] == [
        f"Harry {_family_name(demo, 'Harry')} has already deposited (pouch {pouches['first']})."
    ]
    with demo.ctx.sessions() as s:
        open_holdings = s.scalar(
            select(func.count(Holding.id)).where(
                Holding.exam_session_id == sid,
                Holding.pupil_id == harry,
                Holding.state.in_([x.value for x in OPEN_STATES]),
            )
        )
        assert open_holdings == 1
        assert verify_chain(s).ok


def _family_name(demo, pupil: str) -> str:
    with demo.ctx.sessions() as s:
        return s.get(Pupil, demo.pupils[pupil]).family_name
