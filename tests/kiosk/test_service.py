"""The lock-safety rules of the station service, with no UI at all (issue 8).

The rule under test (DESIGN.md, Physical truth vs. database truth): a lock never rolls a
record back by guessing. Once the lock pulse opened a door the holding stays
``depositing``/``releasing`` for staff to settle; only work whose door never opened is rolled
back; the public notes name no pupil. Door timeouts run on a :class:`Ticker` the test moves,
so every outcome here is decided by the test, not by how fast the machine is.
"""

from __future__ import annotations

import shutil
import threading

import pytest
from auth_testing import staff_identities
from door_watch import UnlockWatch
from kiosk_testing import Clock, Ticker, wait_until
from sqlalchemy import select

from db.models import Event
from kiosk.auth import Identity, NotPermitted
from kiosk.custody import Collector
from kiosk.demo import demo_config
from kiosk.hardware_lock import HardwareBusy
from kiosk.runtime import close_station, open_station, simulator_of
from kiosk.service import DoorOutcome, NotesChanged, StationService
from kiosk.task import Task, TaskKind, TaskLocked


@pytest.fixture
def ticker():
    return Ticker()


@pytest.fixture
def service(tmp_path, demo_template, ticker):
    target = tmp_path / "st"
    shutil.copytree(demo_template, target)
    clock = Clock()
    clock.at(16, 0)  # after school: releases are allowed
    st = open_station(
        demo_config(target), simulate=True, clock=clock, door_close_timeout=1.0, monotonic=ticker
    )
    svc = StationService(st)
    svc.unlocks = UnlockWatch(st)  # type: ignore[attr-defined]
    svc.start()
    yield svc
    svc.stop()
    svc.join()
    close_station(st)


def staff(svc: StationService, role: str) -> Identity:
    if not hasattr(svc, "_test_identities"):
        svc._test_identities = staff_identities(svc.station.ctx)
    for who in svc._test_identities.values():
        if role in who.roles:
            return who
    raise AssertionError(role)


def door(svc: StationService, bank: str | None, number: int | None) -> str:
    assert bank is not None and number is not None
    return svc.station.door_states()[(bank, number)].value


class Outcomes:
    """Collects door outcomes delivered on the door thread."""

    def __init__(self) -> None:
        self.got: list[DoorOutcome] = []
        self.event = threading.Event()

    def __call__(self, out: DoorOutcome) -> None:
        self.got.append(out)
        self.event.set()


def confiscate(svc: StationService, office: Identity) -> Task:
    task = svc.begin_task(TaskKind.DEPOSIT)
    pupil = svc.custody.find_pupils(office, "Jack")[0]
    svc.commit(
        task,
        lambda: svc.custody.confiscate(
            office,
            pupil_id=pupil.id,
            category="unauthorised_use",
            device_description="red phone",
            switched_off_confirmed=True,
        ),
        lambda result: result[0],
    )
    assert task.holding is not None and task.holding.state == "depositing"
    return task


def no_pupil_names(svc: StationService) -> None:
    text = " ".join(svc.notes)
    for name in ("Jack", "Thompson", "Ben", "Hughes"):
        assert name not in text, svc.notes


def test_lock_before_the_commit_starts_writes_nothing(service):
    task = service.begin_task(TaskKind.DEPOSIT)
    service.lock(None, "Locked after 90 s with no input.")
    called: list[bool] = []
    with pytest.raises(TaskLocked):
        service.commit(task, lambda: called.append(True), lambda r: r)
    assert not called and task.holding is None
    assert "A confiscation in progress was not saved." in service.notes


def test_lock_mid_commit_rolls_back_and_never_opens(service):
    office = staff(service, "office")
    entered, go = threading.Event(), threading.Event()
    real = service.custody.confiscate

    def slow(*args, **kwargs):
        entered.set()
        assert go.wait(20)
        return real(*args, **kwargs)

    service.custody.confiscate = slow  # type: ignore[method-assign]
    worker = threading.Thread(target=lambda: confiscate(service, office))
    worker.start()
    assert entered.wait(20)
    service.lock(office, "Signed out: badge tapped again.")
    assert any("was being saved" in n for n in service.notes)
    go.set()
    worker.join(20)
    wait_until(lambda: any("rolled back" in n for n in service.notes), what="the rollback note")
    held = [
        h
        for h in service.custody.holdings(None, open_only=False)
        if h.device_description == "red phone"
    ]
    assert [h.state for h in held] == ["aborted"]
    assert door(service, held[0].locker_bank, held[0].locker_number) == "closed"
    assert not service.station.reconcile()
    assert not any("being saved" in n for n in service.notes)
    no_pupil_names(service)


def test_lock_with_door_open_then_not_closed_is_left_for_staff(service, ticker):
    office = staff(service, "office")
    task = confiscate(service, office)
    h = task.holding
    assert h is not None
    outcomes = Outcomes()
    assert service.open_door(task, office, outcomes)
    wait_until(lambda: door(service, h.locker_bank, h.locker_number) == "open")
    assert not service.auto_lock_due(0.0)  # someone is at the open locker
    service.lock(office, "Signed out: badge tapped again.")
    assert any("the locker is open" in n for n in service.notes)
    ticker.advance(1.0)  # the door wait ends with the door still open
    wait_until(lambda: any("is unfinished" in n for n in service.notes), what="the note")
    assert not outcomes.got  # the screen that started it is gone: the notes say it
    assert service.custody.holding(None, h.id).state == "depositing"
    assert [i.holding.id for i in service.station.reconcile()] == [h.id]
    assert service.task is None
    assert {lk.label: lk.state for lk in service.custody.lockers()}[h.locker] != "free"
    no_pupil_names(service)


def test_lock_with_door_open_then_closed_confirms(service, caplog):
    office = staff(service, "office")
    task = confiscate(service, office)
    h = task.holding
    assert h is not None
    assert service.open_door(task, office, Outcomes())
    wait_until(lambda: door(service, h.locker_bank, h.locker_number) == "open")
    service.lock(office, "Locked.")
    # The station has read the door open (its unlock returned) before anyone closes it.
    wait_until(lambda: service.unlocks.settled(h.locker_bank, h.locker_number), what="the unlock")
    sim = simulator_of(service.station)
    assert sim is not None
    sim.close_door(h.locker_bank or "", h.locker_number or 0)
    try:
        wait_until(lambda: any("after the lock" in n for n in service.notes), what="the note")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; notes: {service.notes}; log: {caplog.text}") from None
    assert service.custody.holding(None, h.id).state == "held"
    assert f"Confiscation #{h.id} (locker {h.locker})" in " ".join(service.notes)


def test_committed_release_whose_door_never_opened_is_rolled_back(service):
    office = staff(service, "office")
    ben = next(x for x in service.custody.holdings(office) if x.pupil_name == "Ben Hughes")
    sarah = next(
        c
        for c in service.custody.find_pupils(office, "Ben")[0].contacts
        if c.name == "Sarah Hughes"
    )
    task = service.begin_task(TaskKind.RELEASE)
    service.commit(
        task,
        lambda: service.custody.begin_release(
            office, ben.id, Collector("contact", sarah.id), "passport"
        ),
        lambda result: result[0],
    )
    service.lock(office, "Locked.")
    wait_until(lambda: any("was rolled back" in n for n in service.notes))
    assert service.custody.holding(None, ben.id).state == "held"
    assert service.open_door(task, office, Outcomes()) is False  # nothing opens after a lock


def test_a_rollback_that_ends_before_the_lock_publishes_keeps_its_note(service, monkeypatch):
    """The rollback thread a lock starts may finish before lock() has published its notes;
    its "rolled back" note must not be overwritten by the lock's "rolling back..." one."""
    office = staff(service, "office")
    ben = next(x for x in service.custody.holdings(office) if x.pupil_name == "Ben Hughes")
    sarah = next(
        c
        for c in service.custody.find_pupils(office, "Ben")[0].contacts
        if c.name == "Sarah Hughes"
    )
    task = service.begin_task(TaskKind.RELEASE)
    service.commit(
        task,
        lambda: service.custody.begin_release(
            office, ben.id, Collector("contact", sarah.id), "passport"
        ),
        lambda result: result[0],
    )
    publish = service._set_notes

    def rollback_first(notes):  # the interleaving, forced: the rollback ends, then this
        service.join()
        publish(notes)

    monkeypatch.setattr(service, "_set_notes", rollback_first)
    service.lock(office, "Locked.")
    service.join()
    assert any("was rolled back" in n for n in service.notes), service.notes
    assert not any("rolling back" in n for n in service.notes), service.notes


def test_exam_hand_back_pauses_auto_lock_and_a_lock_leaves_it_for_staff(service, ticker):
    exams = staff(service, "exams")
    sid = service.custody.exam_sessions()[0].id
    service.custody.end_exam_session(exams, sid)
    service.station.door_close_timeout = 5.0
    task = service.begin_task(TaskKind.EXAM_RELEASE)
    task.session_id = sid
    assert service.open_door(task, exams, Outcomes())
    wait_until(lambda: door(service, "B", 4) == "open")
    ticker.advance(2.0)  # twice a 1 s idle limit: the officer is handing out pouches
    assert not service.auto_lock_due(1.0)
    service.lock(exams, "Signed out.")
    ticker.advance(5.0)
    wait_until(lambda: any("unfinished" in n for n in service.notes))
    pouches = [h for h in service.custody.holdings(None) if h.kind == "exam_deposit"]
    assert {h.state for h in pouches} == {"releasing"}
    assert "Exam hand-back" in " ".join(service.notes)


def test_forced_door_is_an_alarm_with_no_listener(service):
    seen: list[object] = []
    service.subscribe(seen.append)
    sim = simulator_of(service.station)
    assert sim is not None
    sim.force_open("A", 7)
    wait_until(lambda: "forced:A7" in service.alarms, what="the alarm")
    office = staff(service, "office")
    service.custody.sign_out(office)  # a signed-out identity may not clear an alarm
    with pytest.raises(NotPermitted):
        service.acknowledge_alarms(office)
    assert "forced:A7" in service.alarms
    teacher = staff(service, "teacher")
    service.acknowledge_alarms(teacher)
    assert "forced:A7" not in service.alarms
    assert not any(isinstance(m, NotesChanged) for m in seen)
    with service.custody.sessions() as s:
        ack = s.scalars(
            select(Event).where(Event.type == "alarm.acknowledged").order_by(Event.id.desc())
        ).first()
    assert ack is not None and ack.actor_id == teacher.staff_id
    assert ack.payload == {"alarms": ["forced:A7"]}
    # A second press has nothing left to acknowledge: it records nothing more.
    service.acknowledge_alarms(teacher)
    with service.custody.sessions() as s:
        acks = s.scalars(select(Event).where(Event.type == "alarm.acknowledged")).all()
    assert len(acks) == 1


def test_a_second_station_on_the_same_data_folder_is_refused(service):
    with pytest.raises(HardwareBusy, match="in use by pid"):
        open_station(service.station.ctx.config, simulate=True)


def test_a_lock_ends_the_sign_in(service):
    from kiosk.auth import is_signed_in

    office = staff(service, "office")
    service.custody.holdings(office)
    service.lock(office, "Signed out.")
    wait_until(lambda: not is_signed_in(office), what="the sign-out")
    with pytest.raises(NotPermitted):
        service.custody.holdings(office)
