"""The station process the crash harness kills: a headless station plus a staff member.

``kiosk run --headless --simulate`` has doors and alarms but no staff: nothing in it starts a
confiscation. This process is that station (the same :func:`kiosk.runtime.open_station`,
:class:`kiosk.service.StationService` and door steps, on simulated hardware with the tray
camera fitted) plus the intents a console would send, read one a line from stdin, and a
person at the hatch who closes each door the station opens. Each intent goes through the
service exactly as the Textual screens do it (``begin_task`` -> ``commit`` -> ``open_door``),
so a crash lands in the product's code, not in a test double.

Protocol (one line each way; the harness in ``bench/crash_harness.py`` speaks it):

* out ``ready pulses=N reconcile=ID,ID`` once started: lock pulses sent so far (the locks
  must never be driven at start-up) and the holdings start-up reconciliation flagged.
* in ``confiscate PUPIL JAM`` | ``release HOLDING CONTACT`` | ``exam-open PUPIL,PUPIL`` |
  ``exam-deposit SESSION PUPIL`` | ``hand-back SESSION`` | ``repair BANK N`` |
  ``settle HOLDING`` (staff settle a flagged holding).
* out ``first pulses=N`` before the first intent runs, then per intent ``ack {json}`` once
  the station reported it done, or ``refused OP: message`` when the rules said no (any other
  error ends the process: the harness reports it).

Run it through the harness; by hand: ``python bench/crash_station.py --config DIR/kiosk.toml``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from hardware.ports import DoorState, UnlockOutcome
from kiosk.auth import AuthError, Identity, NotPermitted
from kiosk.config import load_config
from kiosk.custody import Collector, CustodyError
from kiosk.demo import DEMO_BADGES
from kiosk.runtime import close_station, open_station, simulator_of
from kiosk.service import DoorOutcome, StationService, Task, TaskKind
from kiosk.staff_admin import StaffAdminError
from kiosk.station import Station
from kiosk.views import HoldingView
from wire.vocabulary import ExamSessionState, HoldingState

#: What the rules answer with when they say no. Anything else is a bug in the station or
#: in this script and ends the process with its traceback, which the harness reports as a
#: problem: caught as a "refusal", a typo once turned every exam deposit into a refused
#: intent, and the runs that drew several of them missed the ``door.pulsed`` kill.
REFUSALS = (CustodyError, NotPermitted, AuthError, StaffAdminError)

#: Bound on any one door step (a failure bound, not a synchronisation).
STEP_TIMEOUT = 60.0
#: The simulated lock pulse, and how long a door may take to open before the locker is
#: given up as jammed (see :func:`serve`).
SIM_PULSE_S = 0.05
SIM_CONFIRM_S = 1.0


class PulseCounter:
    """Counts lock pulses where the simulator sees them: GPIO lock pins energised and
    RS-485 unlock commands reaching a board."""

    def __init__(self, station: Station) -> None:
        sim = station.hardware.simulator
        assert sim is not None
        self._sim = sim
        self._gpio = 0
        for specs in sim._gpio_specs.values():
            for spec in specs.values():
                pin = sim.pin(spec.lock_pin)
                inner = pin.on_output

                def counted(
                    value: bool,
                    inner: Callable[[bool], None] | None = inner,
                    high: bool = spec.lock_active_high,
                ) -> None:
                    if value == high:
                        self._gpio += 1
                    if inner is not None:
                        inner(value)

                pin.on_output = counted

    def total(self) -> int:
        boards = sum(
            len(b.unlocks) for fake in self._sim.buses.values() for b in fake.boards.values()
        )
        return self._gpio + boards


def ticking_clock(start: datetime) -> Callable[[], datetime]:
    """A school-day clock: one second on per reading (policies see a fixed weekday)."""
    ticks = itertools.count()
    guard = threading.Lock()

    def now() -> datetime:
        with guard:
            return start + timedelta(seconds=next(ticks))

    return now


class Hatch:
    """The staff member and the person at the hatch."""

    def __init__(self, station: Station, service: StationService, out: Callable[[str], None]):
        self.station, self.service, self.out = station, service, out
        self.custody = station.custody
        sim = simulator_of(station)
        assert sim is not None
        self.sim = sim
        self._unlocked = threading.Event()
        for bank in station.banks.values():
            bank.unlock = self._noting_unlock(bank.unlock)  # type: ignore[method-assign,assignment]
        # Real sign-ins with the demo badges and PINs (issue 9: identities are minted by the
        # station's AuthService; a hand-built one is refused by every use-case), each on the
        # first intent that needs it: a sign-in verifies a PIN at the production Argon2 cost,
        # and most lives use one or two of the six roles before they are killed.
        self._signed_in: dict[str, Identity] = {}

    def staff(self, role: str) -> Identity:
        """The demo member of staff in ``role``, signed in on first use."""
        if role not in self._signed_in:
            badge, pin = DEMO_BADGES[role]
            self._signed_in[role] = self.custody.sign_in(badge, pin)
        return self._signed_in[role]

    # -------------------------------------------------------------- doors
    def _noting_unlock(
        self, unlock: Callable[[int], UnlockOutcome]
    ) -> Callable[[int], UnlockOutcome]:
        """The person waits for the station to have read the door open before closing it
        (closing sooner would be a door that never opened)."""

        def noted(number: int) -> UnlockOutcome:
            try:
                return unlock(number)
            finally:
                self._unlocked.set()

        return noted

    def _door(self, task: Task, actor: Identity | None) -> DoorOutcome:
        """Open the task's door; close it as soon as it is open (the phone went in/out)."""
        done = threading.Event()
        outcome: list[DoorOutcome] = []
        doors = self._doors(task)
        self._unlocked.clear()

        def closer() -> None:
            while not done.is_set() and not self._unlocked.wait(0.01):
                pass
            while not done.is_set():
                states = self.sim.door_states()
                for door in doors:
                    if states.get(door) is DoorState.OPEN and not self._energised(*door):
                        self.sim.close_door(*door)
                done.wait(0.01)

        def finished(o: DoorOutcome) -> None:
            outcome.append(o)
            done.set()

        if not self.service.open_door(task, actor, finished):
            raise RuntimeError("door refused")
        threading.Thread(target=closer, daemon=True).start()
        if not done.wait(STEP_TIMEOUT):
            raise RuntimeError("door step did not end")
        self.service.end_task(task)
        if outcome[0].error is not None:
            raise outcome[0].error
        return outcome[0]

    def _energised(self, bank: str, number: int) -> bool:
        """A GPIO lock still in its pulse: a door shut now would not latch (and the next
        pulse would not change the output), so the person waits for the click."""
        raw = self.station.hardware.simulator._banks[bank]  # type: ignore[union-attr]
        locker = getattr(raw, "_locker", None)
        return bool(locker is not None and locker(number).lock.is_active)

    def _doors(self, task: Task) -> list[tuple[str, int]]:
        holdings = [task.holding] if task.holding is not None else []
        if task.kind is TaskKind.EXAM_RELEASE and task.session_id is not None:
            holdings = [
                h
                for h in self.custody.holdings(None, open_only=True)
                if h.exam_session_id == task.session_id
            ]
        return [
            (h.locker_bank, h.locker_number)
            for h in holdings
            if h.locker_bank is not None and h.locker_number is not None
        ]

    # -------------------------------------------------------------- intents
    def confiscate(self, pupil: str, jam: str) -> dict[str, object]:
        office = self.staff("office")
        task = self.service.begin_task(TaskKind.DEPOSIT)
        holding = self.service.commit(
            task,
            lambda: self.custody.confiscate(
                office,
                pupil_id=int(pupil),
                category="unauthorised_use",
                device_description="phone (crash harness)",
                switched_off_confirmed=True,
                reason="crash harness",
            )[0],
            lambda h: h,
        )
        bank, number = holding.locker_bank, holding.locker_number
        assert bank is not None and number is not None
        if jam == "1":
            self.sim.jam(bank, number, True)
        try:
            result = self._door(task, office).result
        finally:
            self.sim.jam(bank, number, False)
        assert result is not None
        return {"holding": holding.id, "locker": f"{bank}{number}", "outcome": result.outcome}

    def release(self, holding_id: str, contact: str) -> dict[str, object]:
        office = self.staff("office")
        task = self.service.begin_task(TaskKind.RELEASE)
        self.service.commit(
            task,
            lambda: self.custody.begin_release(
                office, int(holding_id), Collector("contact", int(contact)), "driving_licence"
            )[0],
            lambda h: h,
        )
        result = self._door(task, office).result
        assert result is not None
        return {"holding": int(holding_id), "outcome": result.outcome}

    def exam_open(self, pupils: str) -> dict[str, object]:
        now = self.custody.clock()
        sid = self.custody.open_exam_session(
            self.staff("exams"),
            name="Crash harness paper",
            room="Hall",
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            candidate_ids=[int(p) for p in pupils.split(",")],
        )
        return {"session": sid}

    def exam_deposit(self, session: str, pupil: str) -> dict[str, object]:
        task = self.service.begin_task(TaskKind.EXAM_DEPOSIT)
        holding = self.service.commit(
            task,
            lambda: self.custody.exam_deposit(
                None,
                session_id=int(session),
                pupil_id=int(pupil),
                switched_off_confirmed_by=self.staff("exams").staff_id,
            ),
            lambda h: h,
        )
        result = self._door(task, None).result
        assert result is not None
        return {"holding": holding.id, "outcome": result.outcome}

    def hand_back(self, session: str) -> dict[str, object]:
        exams = self.staff("exams")
        sid = int(session)
        if not any(
            s.id == sid and s.state != ExamSessionState.OPEN for s in self.custody.exam_sessions()
        ):
            self.custody.end_exam_session(exams, sid)
        task = self.service.begin_task(TaskKind.EXAM_RELEASE)
        task.session_id = sid
        result = self._door(task, exams).result
        assert result is not None
        held = [h.id for h in getattr(result, "holdings", [])]
        return {"session": sid, "holdings": held, "outcome": result.outcome}

    def repair(self, bank: str, number: str) -> dict[str, object]:
        self.station.set_locker_service(self.staff("technician"), bank, int(number), fault=False)
        return {"locker": f"{bank}{number}"}

    def settle(self, holding_id: str) -> dict[str, object]:
        """Staff settle a holding start-up flagged: a deposit is confirmed, a release
        completed (the harness's person at the hatch always finished the physical step)."""
        h: HoldingView = self.custody.holding(None, int(holding_id))
        who = self.staff("office")
        if h.state is HoldingState.DEPOSITING:
            done = self.custody.confirm_deposit(who, h.id)
        else:
            done = self.custody.complete_release(who, h.id)
        self.service.forget_reconciled(h.id)
        return {"holding": h.id, "state": done.state.value}


def serve(config_path: Path, clock_start: datetime) -> None:
    config = load_config(config_path)
    # The simulated solenoids pulse for SIM_PULSE_S and a jammed one is given up after
    # SIM_CONFIRM_S (defaults 0.5 s and 3 s): the person at the hatch waits for each pulse to
    # end, and a quarter of the confiscations go to a jammed locker. What is tested is where
    # a kill lands and what the restart finds, not how long a solenoid is driven.
    timings = dataclasses.replace(
        config.hardware.lock_timings, pulse_s=SIM_PULSE_S, confirm_timeout_s=SIM_CONFIRM_S
    )
    hardware = dataclasses.replace(config.hardware, camera="picamera2", lock_timings=timings)
    config = config.model_copy(update={"hardware": hardware})
    station = open_station(
        config, simulate=True, clock=ticking_clock(clock_start), purpose="crash harness"
    )
    pulses = PulseCounter(station)
    service = StationService(station)
    write = threading.Lock()

    def out(line: str) -> None:
        with write:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    try:
        started = service.start()
        if started.error:
            raise RuntimeError(started.error)
        flagged = ",".join(str(r.holding.id) for r in started.reconcile)
        out(f"ready pulses={pulses.total()} reconcile={flagged}")
        hatch = Hatch(station, service, out)
        ops: dict[str, Callable[..., dict[str, object]]] = {
            "confiscate": hatch.confiscate,
            "release": hatch.release,
            "exam-open": hatch.exam_open,
            "exam-deposit": hatch.exam_deposit,
            "hand-back": hatch.hand_back,
            "repair": hatch.repair,
            "settle": hatch.settle,
        }
        first = True
        for raw in sys.stdin:
            op, *args = raw.split()
            if first:
                out(f"first pulses={pulses.total()}")
                first = False
            try:
                answer = ops[op](*args)
            except REFUSALS as exc:  # the rules said no: not acknowledged
                out(f"refused {op}: {type(exc).__name__}: {exc}".replace("\n", " "))
                continue
            out("ack " + json.dumps({"op": op, **answer}))
    finally:
        service.stop()
        close_station(station)


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), required=True)
@click.option("--clock-start", default="2026-11-17T11:00:00+00:00", show_default=True)
def main(config_path: Path, clock_start: str) -> None:
    """A headless station with a scripted member of staff (see the module docstring)."""
    serve(config_path, datetime.fromisoformat(clock_start).astimezone(UTC))


if __name__ == "__main__":
    main()
