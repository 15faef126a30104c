"""The station joins custody to (simulated) hardware: commit first, pulse, confirm by sensor.

Real gpiozero (MockFactory pins) and pyserial (simulated RS-485 board) run underneath.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading

import pytest
from auth_testing import staff_identities
from door_watch import UnlockWatch, quick_jam_give_up
from kiosk_testing import Clock, wait_until
from sqlalchemy import select

from db.models import Event
from kiosk.audit_replay import unexplained
from kiosk.auth import NotPermitted
from kiosk.custody import Collector, CustodyError
from kiosk.demo import demo_config
from kiosk.events import ForcedOpen
from kiosk.runtime import close_station, open_station
from kiosk.views import ExamSessionState


@pytest.fixture
def station(tmp_path, demo_template):
    target = tmp_path / "st"
    shutil.copytree(demo_template, target)
    clock = Clock()
    config = demo_config(target)
    # A (simulated) tray camera, so the photo path runs too.
    config = config.model_copy(
        update={"hardware": dataclasses.replace(config.hardware, camera="picamera2")}
    )
    st = open_station(config, simulate=True, clock=clock, door_close_timeout=3)
    st.clock = clock
    st.sim = st.hardware.simulator
    st.unlocks = UnlockWatch(st)
    yield st
    close_station(st)


def _staff(st, role):
    return next(x for x in _all_staff(st) if role in x.roles)


def _all_staff(st):
    # Kept on the station so the minted identities stay signed in for the whole test.
    if not hasattr(st, "_test_identities"):
        st._test_identities = list(staff_identities(st.ctx, lambda x: str(x.id)).values())
    return st._test_identities


def _pupil(st, name):
    office = _staff(st, "office")
    return st.custody.find_pupils(office, name)[0]


def _events(st, prefix):
    with st.ctx.sessions() as s:
        return [e for e in s.scalars(select(Event).order_by(Event.id)) if e.type.startswith(prefix)]


def _close_later(st, bank, number):
    """The person at the hatch closes the door once it has opened and the station has read it
    open (tests/door_watch.py), not after a guessed delay."""

    def close():
        wait_until(
            lambda: (
                st.door_states()[(bank, number)].value == "open"
                and st.unlocks.settled(bank, number)
            )
        )
        st.sim.close_door(bank, number)

    threading.Thread(target=close, daemon=True).start()


def _start_confiscation(st):
    office = _staff(st, "office")
    h, _ = st.custody.confiscate(
        office,
        pupil_id=_pupil(st, "Jack").id,
        category="unauthorised_use",
        device_description="phone",
        switched_off_confirmed=True,
    )
    return office, h


def test_deposit_opens_the_locker_and_the_door_closing_confirms(station):
    office, h = _start_confiscation(station)
    assert h.state == "depositing"  # committed before any pulse
    _close_later(station, h.locker_bank, h.locker_number)
    result = station.deposit(office, h)
    assert result.ok and result.holding.state == "held"


def test_door_that_does_not_open_aborts_and_marks_a_fault(station):
    office, h = _start_confiscation(station)
    station.sim.jam(h.locker_bank, h.locker_number)
    with quick_jam_give_up(station):
        result = station.deposit(office, h)
    assert not result.ok and result.outcome in ("did_not_open", "jammed")
    assert result.holding.state == "aborted"
    states = {x.label: x.state for x in station.custody.lockers()}
    assert states[h.locker] == "fault"


def test_door_left_open_keeps_the_deposit_pending(station):
    office, h = _start_confiscation(station)
    result = station.deposit(office, h, timeout=0.3)
    assert not result.ok and result.outcome == "not_closed"
    assert station.custody.holding(office, h.id).state == "depositing"
    items = station.reconcile()
    assert [i.holding.id for i in items] == [h.id]


def test_release_did_not_open_puts_phone_back_to_held(station):
    office = _staff(station, "office")
    station.clock.at(16, 0)
    ben = next(x for x in station.custody.holdings(office) if x.pupil_name == "Ben Hughes")
    sarah = next(c for c in _pupil(station, "Ben").contacts if c.name == "Sarah Hughes")
    h, _ = station.custody.begin_release(office, ben.id, Collector("contact", sarah.id), "passport")
    station.sim.jam(h.locker_bank, h.locker_number)
    with quick_jam_give_up(station):
        result = station.release(office, h)
    assert not result.ok and result.holding.state == "held"


def test_forced_door_while_nobody_is_signed_in_is_an_alarm_in_the_ledger(station):
    seen = []
    station.subscribe(seen.append)
    station.start()
    station.sim.force_open("A", 1)
    wait_until(lambda: any(isinstance(e, ForcedOpen) for e in seen), what="the alarm")
    assert any(isinstance(e, ForcedOpen) for e in seen)
    assert [e.payload for e in _events(station, "alarm.forced_open")] == [
        {"bank": "A", "number": 1}
    ]


def test_tray_photo_is_recorded_for_the_purge(station):
    office, h = _start_confiscation(station)
    path = station.capture_tray_photo(office, h)
    assert path is not None and path.endswith(f"holding-{h.id}.jpg")
    assert _events(station, "holding.photo_taken")
    with station.ctx.sessions() as s:
        from db.models import Holding

        assert s.get(Holding, h.id).photo_path == path


def test_technician_test_unlock_needs_the_hardware_role_and_an_empty_locker(station):
    tech, office = _staff(station, "technician"), _staff(station, "office")
    with pytest.raises(NotPermitted):
        station.test_unlock(office, "A", 8)
    with pytest.raises(CustodyError, match="holds 1 phone"):
        station.test_unlock(tech, "A", 1)
    assert station.test_unlock(tech, "A", 8).value == "opened"
    assert _events(station, "hardware.test_unlock")


def _end_session(st):
    exams = _staff(st, "exams")
    sid = st.custody.exam_sessions()[0].id
    st.custody.end_exam_session(exams, sid)
    return exams, sid


def test_exam_cabinet_opens_once_and_closing_hands_back_every_pouch(station):
    exams, sid = _end_session(station)
    _close_later(station, "B", 4)
    result = station.release_exam_session(exams, sid)
    assert result.ok and len(result.holdings) == 3
    assert {h.state for h in result.holdings} == {"released"}
    assert station.custody.exam_sessions()[0].state == ExamSessionState.RELEASED


def test_exam_cabinet_that_will_not_open_keeps_every_pouch_held(station):
    exams, sid = _end_session(station)
    station.sim.jam("B", 4)
    with quick_jam_give_up(station):
        result = station.release_exam_session(exams, sid)
    assert not result.ok and {h.state for h in result.holdings} == {"held"}


def test_technician_cannot_take_a_locker_with_a_phone_out_of_or_back_into_service(station):
    tech = _staff(station, "technician")
    # A2 holds Dylan's phone on safeguarding hold.
    with pytest.raises(CustodyError, match="holds 1 phone"):
        station.set_locker_service(tech, "A", 2, fault=True)
    with pytest.raises(CustodyError, match="holds 1 phone"):
        station.set_locker_service(tech, "A", 2, fault=False)
    with pytest.raises(CustodyError):
        station.test_unlock(tech, "A", 2)
    assert {x.label: x.state for x in station.custody.lockers()}["A2"] == "occupied"


def test_forced_door_with_a_phone_inside_flags_it_for_the_next_sign_in(station):
    office = _staff(station, "office")
    held = next(x for x in station.custody.holdings(office) if x.state == "held" and x.locker_bank)
    seen = []
    station.subscribe(seen.append)
    station.start()
    station.sim.force_open(held.locker_bank, held.locker_number)
    # Listeners run after the ledger write and the flag, on the same event thread.
    wait_until(lambda: any(isinstance(e, ForcedOpen) for e in seen), what="the alarm")
    assert held.id in [h.id for h in station.custody.holdings_to_check(office)]
    assert _events(station, "holding.check_required")[-1].holding_id == held.id


def test_a_deposit_between_the_test_check_and_the_pulse_is_refused(station, monkeypatch):
    """``hw test`` checks the locker is empty, then pulses it: the check reserves the locker in
    the same transaction, so a deposit that starts in between (run here, deterministically,
    on another thread while the pulse is about to be sent) cannot take it."""
    import kiosk.station as station_module

    tech, office = _staff(station, "technician"), _staff(station, "office")
    a8 = next(x for x in station.custody.lockers() if x.label == "A8")
    assert a8.state == "free"
    seen: dict[str, object] = {}
    real_pulse = station_module.test_pulse

    def deposit_then_pulse(bank, number):
        def deposit():
            try:
                seen["holding"] = station.custody.confiscate(
                    office,
                    pupil_id=_pupil(station, "Jack").id,
                    category="unauthorised_use",
                    device_description="phone",
                    switched_off_confirmed=True,
                    locker_id=a8.id,
                )
            except CustodyError as refused:
                seen["refused"] = str(refused)

        other = threading.Thread(target=deposit)
        other.start()
        other.join(timeout=30)  # the deposit has finished (or was refused) before the pulse
        assert not other.is_alive()
        seen["state_at_pulse"] = {x.label: x.state for x in station.custody.lockers()}["A8"]
        with station.ctx.sessions() as s:
            seen["unexplained_at_pulse"] = unexplained(s)
        return real_pulse(bank, number)

    monkeypatch.setattr(station_module, "test_pulse", deposit_then_pulse)
    assert station.test_unlock(tech, "A", 8).value == "opened"
    assert "holding" not in seen and "not free" in str(seen["refused"])
    assert seen["state_at_pulse"] == "testing" and seen["unexplained_at_pulse"] == []
    # The test ended: the locker is free again, and the replay explains every state.
    assert {x.label: x.state for x in station.custody.lockers()}["A8"] == "free"
    (begin,) = _events(station, "hardware.test_unlock")[:1]
    assert begin.payload["state"] == "testing" and begin.payload["previous"] == "free"
    assert _events(station, "hardware.test_unlock_result")[-1].payload["state"] == "free"
    with station.ctx.sessions() as s:
        assert unexplained(s) == []


def test_a_locker_under_test_is_not_tested_twice_and_is_given_back_if_the_pulse_fails(
    station, monkeypatch
):
    import kiosk.station as station_module

    tech = _staff(station, "technician")

    def broken(bank, number):
        with pytest.raises(CustodyError, match="already being tested"):
            station.test_unlock(tech, "A", 8)
        raise RuntimeError("driver fell over")

    monkeypatch.setattr(station_module, "test_pulse", broken)
    with pytest.raises(RuntimeError):
        station.test_unlock(tech, "A", 8)
    assert {x.label: x.state for x in station.custody.lockers()}["A8"] == "free"
    assert _events(station, "hardware.test_unlock_result")[-1].payload["outcome"] == "error"
