"""The station service: the one owner of the doors, the alarms and the task in progress.

Why this lives below the UI (DESIGN.md, Layers): the kiosk must keep phones safe with no screen
at all. Door alarms must keep sounding when the UI crashes, a lock landing mid-task must still
roll back or leave the work for staff, and those rules must be testable without Textual. So
everything that decides about holdings, doors or locks is here; a UI (or ``kiosk run
--headless``) sends intents and renders the state this service reports.

Threads: hardware events reach :meth:`subscribe`d listeners on the station's event thread; a
door step runs on a thread of its own and calls its ``done`` callback there; late notes about
work a lock settled arrive as :class:`NotesChanged` from the thread that settled it. A UI must
hand each of these to its own thread (Textual: ``post_message`` / ``call_from_thread``).

The idle clock (:meth:`touch`, :meth:`auto_lock_due`) and the door timeouts run on the same
injected monotonic clock (:attr:`Station.monotonic`), so tests decide when time passes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from kiosk.auth import Identity
from kiosk.custody import Custody
from kiosk.events import (
    BadgeTapped,
    DoorClosed,
    ForcedOpen,
    LeftOpen,
    ReaderFault,
    ReaderRecovered,
    SensorFault,
)
from kiosk.station import BulkResult, DoorResult, ReconcileItem, Station
from kiosk.task import Task, TaskKind, TaskLocked
from kiosk.views import HoldingView
from kiosk.watchdog import notify_watchdog, watchdog_interval
from wire.vocabulary import HALF_WAY_STATES, HoldingState

log = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = [
    "AlarmsChanged",
    "DoorOutcome",
    "NotesChanged",
    "StationService",
    "StationStarted",
    "Task",
    "TaskKind",
    "TaskLocked",
]


# ----------------------------------------------------------------------------- messages
@dataclass(frozen=True)
class StationStarted:
    """Start-up finished: holdings a crash left half-way, or why the hardware did not start."""

    reconcile: tuple[ReconcileItem, ...]
    error: str | None = None


@dataclass(frozen=True)
class AlarmsChanged:
    """The alarm list changed; ``raised`` when a new alarm came (sound the bell)."""

    alarms: dict[str, str]
    raised: bool


@dataclass(frozen=True)
class NotesChanged:
    """The public notes (no pupil names) about work a lock settled changed."""

    notes: tuple[str, ...]


@dataclass(frozen=True)
class DoorOutcome:
    """What a door step gave the screen that started it (on the door thread)."""

    task: Task
    result: DoorResult | BulkResult | None
    error: Exception | None


#: Everything a listener may receive: the hardware events of :mod:`kiosk.events` and these.
StationMessage = object
Listener = Callable[[StationMessage], None]
DoorCallback = Callable[[DoorOutcome], None]


class StationService:
    """A started :class:`Station` plus the rules for the work in hand and the alarms."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self.custody: Custody = station.custody
        self.monotonic = station.monotonic
        self.task: Task | None = None
        self.alarms: dict[str, str] = {}
        self.notes: list[str] = []
        self.reconcile: tuple[ReconcileItem, ...] = ()
        self.started = False
        self._pending_notes: dict[int, str] = {}
        #: Sign-outs waiting for the task a lock took over to settle (see :meth:`lock`).
        self._deferred_sign_outs: dict[int, tuple[Identity, str]] = {}
        self._listeners: list[Listener] = []
        self._guard = threading.RLock()
        #: One acknowledgement at a time: two presses read the same alarms otherwise, and
        #: both would be recorded (the second then finds nothing left to acknowledge).
        self._acknowledging = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._last_activity = self.monotonic()
        self._watchdog_stop = threading.Event()
        station.subscribe(self._on_hardware)

    # ------------------------------------------------------------------ lifecycle
    def subscribe(self, listener: Listener) -> None:
        """``listener`` gets hardware events and this service's messages (any thread)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, message: StationMessage) -> None:
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:
                log.exception("station listener failed")

    def start(self) -> StationStarted:
        """Drive locks off, start readers and the monitor, list what a crash left (blocks)."""
        try:
            items = self.station.start()
        except Exception as exc:
            log.exception("station start failed")
            started = StationStarted((), f"Hardware did not start: {exc}")
            self._raise("station", started.error or "")
        else:
            self.started = True
            self.reconcile = tuple(items)
            started = StationStarted(self.reconcile)
            interval = watchdog_interval()
            if interval is not None:  # under systemd with WatchdogSec=
                self._spawn("watchdog", lambda: self._feed_watchdog(interval))
        self._emit(started)
        return started

    def watchdog_tick(self, interval: float) -> bool:
        """Tell systemd's watchdog the station is alive, if it is: started, and its door
        monitor has read every door within ``interval`` seconds. A hung monitor, bus or
        station thread stops the pings, systemd restarts the unit, and the locks (fail-secure)
        stay shut meanwhile. Returns whether it pinged."""
        if not self.started:
            return False
        since = self.station.hardware.monitor.seconds_since_poll()
        if since is None or since > interval:
            log.warning("watchdog: door monitor silent for %s s; not pinging", since)
            return False
        return notify_watchdog()

    def _feed_watchdog(self, interval: float) -> None:
        """Ping at half the interval systemd gave (``WATCHDOG_USEC``) until stopped."""
        while not self._watchdog_stop.wait(interval / 2):
            self.watchdog_tick(interval)

    def stop(self) -> None:
        self._watchdog_stop.set()
        if self.started:
            self.station.stop()
            self.started = False

    def join(self, timeout: float = 10.0) -> None:
        """Wait for door steps and roll-backs in flight (tests, shutdown)."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def forget_reconciled(self, holding_id: int) -> None:
        """Staff settled a holding a crash left half-way: it leaves the start-up list."""
        with self._guard:
            self.reconcile = tuple(r for r in self.reconcile if r.holding.id != holding_id)

    def in_progress(self, holding_id: int) -> bool:
        """The holding is the task in hand at the hatch (staff must not settle it elsewhere)."""
        task = self.task
        return task is not None and task.holding is not None and task.holding.id == holding_id

    # ------------------------------------------------------------------ hardware events
    def _on_hardware(self, event: object) -> None:
        """Station thread: alarms first (they must not depend on a screen), then listeners."""
        if isinstance(event, BadgeTapped):
            self.touch()
        elif isinstance(event, ForcedOpen):
            self._raise(
                f"forced:{event.bank}{event.number}",
                f"ALARM: locker {event.bank}{event.number} was forced open. Check it now.",
            )
        elif isinstance(event, LeftOpen):
            self._raise(
                f"left:{event.bank}{event.number}",
                f"Locker {event.bank}{event.number} left open ({int(event.seconds)} s). Close it.",
            )
        elif isinstance(event, DoorClosed):
            self._clear(f"left:{event.bank}{event.number}")
        elif isinstance(event, SensorFault):
            self._raise(
                f"sensor:{event.bank}{event.number}",
                f"Door sensor {event.bank}{event.number} unreadable: call the technician.",
            )
        elif isinstance(event, ReaderFault):
            self._raise(
                f"reader:{event.reader}",
                f"Badge reader '{event.reader}' not answering ({event.detail}).",
            )
        elif isinstance(event, ReaderRecovered):
            self._clear(f"reader:{event.reader}")
        self._emit(event)

    def _raise(self, key: str, text: str) -> None:
        with self._guard:
            self.alarms[key] = text
            alarms = dict(self.alarms)
        self._emit(AlarmsChanged(alarms, raised=True))

    def _clear(self, key: str) -> None:
        with self._guard:
            if self.alarms.pop(key, None) is None:
                return
            alarms = dict(self.alarms)
        self._emit(AlarmsChanged(alarms, raised=False))

    def show_sync_state(self, text: str | None, alarm: bool) -> None:
        """The sync relay's state (:func:`kiosk.sync.status.staff_banner`) for staff: a
        refusal by the central log rings like any alarm; an old backlog is only shown."""
        if text is None:
            self._clear("sync")
            return
        with self._guard:
            if self.alarms.get("sync") == text:
                return
        if alarm:
            self._raise("sync", text)
            return
        with self._guard:
            self.alarms["sync"] = text
            alarms = dict(self.alarms)
        self._emit(AlarmsChanged(alarms, raised=False))

    def acknowledge_alarms(self, actor: Identity) -> None:
        """Forced/left-open alarms are cleared by a signed-in person, who is recorded
        (``alarm.acknowledged``, issue 9); faults clear when fixed.

        The event is written before anything is cleared: a refused or failed write
        (:class:`~kiosk.auth.NotPermitted` for a signed-out identity) leaves the alarms up.
        """
        kept = ("reader:", "sensor:", "station", "sync")
        with self._acknowledging:
            with self._guard:
                cleared = [k for k in self.alarms if not k.startswith(kept)]
            if not cleared:
                return  # nothing to acknowledge: no event (a second press records nothing)
            self.custody.acknowledge_alarm(actor, cleared)
            with self._guard:
                # Only what was recorded is cleared: an alarm raised meanwhile stays up.
                self.alarms = {k: v for k, v in self.alarms.items() if k not in cleared}
                alarms = dict(self.alarms)
        self._emit(AlarmsChanged(alarms, raised=False))

    # ------------------------------------------------------------------ activity
    def touch(self) -> None:
        """Someone did something: restart the inactivity clock."""
        self._last_activity = self.monotonic()

    def auto_lock_due(self, idle_seconds: float) -> bool:
        """True once nobody did anything for ``idle_seconds``; never while a door is open
        for a step (someone is at the locker)."""
        task = self.task
        if task is not None and task.door_running:
            return False
        return self.monotonic() - self._last_activity >= idle_seconds

    # ------------------------------------------------------------------ public notes
    def clear_notes(self) -> None:
        with self._guard:
            self.notes = []
            self._pending_notes.clear()
        self._emit(NotesChanged(()))

    def _set_notes(self, notes: list[str]) -> None:
        with self._guard:
            self.notes = list(notes)
            snapshot = tuple(self.notes)
        self._emit(NotesChanged(snapshot))

    def _late_note(self, note: str, task: Task | None = None) -> None:
        """A note that comes after the lock; it replaces ``task``'s "rolling back..." note."""
        with self._guard:
            pending = self._pending_notes.pop(id(task), None) if task is not None else None
            sign_out = self._deferred_sign_outs.pop(id(task), None) if task is not None else None
            if pending is not None and pending in self.notes:
                self.notes[self.notes.index(pending)] = note
            else:
                self.notes.append(note)
            snapshot = tuple(self.notes)
        self._emit(NotesChanged(snapshot))
        if sign_out is not None:
            self._sign_out(*sign_out)

    # ------------------------------------------------------------------ the task
    def begin_task(self, kind: TaskKind) -> Task:
        with self._guard:
            self.task = Task(kind)
            return self.task

    def end_task(self, task: Task | None = None) -> None:
        with self._guard:
            if task is None or self.task is task:
                self.task = None

    def is_current(self, task: Task | None) -> bool:
        """The screen's task is still the one in hand and no lock took it over."""
        return task is not None and self.task is task and not task.lock_pending

    def commit(self, task: Task, fn: Callable[[], T], holding_of: Callable[[T], HoldingView]) -> T:
        """Run ``fn`` (confiscate / begin_release) on the calling (worker) thread.

        The holding it writes is recorded on ``task`` before the result goes back to the
        caller; so a lock always knows a holding exists. If a lock landed while saving, the
        holding is rolled back at once (its door never opened) and the notes say so. A lock
        that landed before this started means nothing is written (:class:`TaskLocked`).
        """
        task.start_saving()
        try:
            result = fn()
        except Exception:
            if not task.saved(None):
                self._late_note(f"{task.public_name()} was not saved.", task)
            raise
        if not task.saved(holding_of(result)):
            self._late_note(self._rollback_now(task), task)
        return result

    def lock(self, who: Identity | None, why: str) -> None:
        """Sign out, settle the task in hand as far as is safe, and set the public notes.

        Never a rollback by guessing (DESIGN.md, Physical truth vs. database truth): once the
        lock pulse has opened the door (or a door step failed part-way) the holding stays
        ``depositing``/``releasing`` for staff to settle. Only work whose door was never
        pulsed is rolled back. Every note names the work by holding number and locker only
        (:meth:`Task.public_name`), never the pupil: the idle screen faces the public.
        """
        notes = [why]
        deferred = False
        with self._guard:
            task, self.task = self.task, None
            if task is not None:
                notes.append(self._lock_task(task, who, why))
                if who is not None and id(task) in self._pending_notes:
                    # Work already begun (a door open, a save or a rollback in flight) is
                    # finished under the name of who began it; their sign-in ends with it.
                    self._deferred_sign_outs[id(task)] = (who, why)
                    deferred = True
            # Set before the guard is let go: the rollback (or door step) settling the task
            # takes the guard next and replaces its pending note in these. Set after, a
            # settling that came first was overwritten by "rolling back..." for good.
            self.notes = notes
            snapshot = tuple(notes)
        if who is not None and not deferred:
            self._spawn("sign-out", lambda: self._sign_out(who, why))
        self._emit(NotesChanged(snapshot))

    def sign_out_for_self_service(self, opener: Identity) -> None:
        """The exams officer hands the kiosk to candidates: sign out, keep nothing open."""
        self._spawn("sign-out", lambda: self._sign_out(opener, "exam self-service opened"))
        with self._guard:
            self.task = None
        self.clear_notes()

    def _sign_out(self, who: Identity, why: str) -> None:
        try:
            self.custody.sign_out(who, why)
        except Exception:
            log.exception("sign-out event not written")

    def _lock_task(self, task: Task, who: Identity | None, why: str) -> str:
        """What a lock does to ``task`` (under the guard); returns its public note."""
        saving, committed = task.take_over(who, why)
        name = task.public_name()
        if task.door_running:
            self.task = task  # the door step reports when it ends
            note = (
                f"{name}: the locker is open. It is confirmed when the door closes; if it "
                "is not closed in time it is left for staff to check and settle."
            )
        elif task.door_opened:
            return unfinished_note(task)
        elif task.settled:
            return f"{name} had finished before the lock; nothing is left half-way."
        elif committed:
            note = f"{name}: rolling back (its locker was never opened)..."
            self._spawn("rollback", lambda: self._late_note(self._rollback_now(task), task))
        elif saving:
            note = f"{name} was being saved: undoing it (its locker was never opened)..."
        else:
            return f"{name} was not saved."
        self._pending_notes[id(task)] = note
        return note

    def _rollback_now(self, task: Task) -> str:
        """Abort a deposit or return a release to ``held``: only for a door never opened."""
        holding, who, why = task.holding, task.lock_actor, task.lock_why
        assert holding is not None
        name = task.public_name()
        try:
            if task.kind is TaskKind.RELEASE:
                self.custody.cancel_release(who, holding.id, f"locked mid-task: {why}")
                return f"{name} was rolled back: the phone is still held in {holding.locker}."
            self.custody.abort_deposit(who, holding.id, f"locked mid-task: {why}")
            return (
                f"{name} was rolled back: its locker was never opened, nothing is recorded "
                f"as deposited and {holding.locker} is free again."
            )
        except Exception:
            log.exception("rollback after a lock failed")
            return (
                f"{name} could not be rolled back: check the locker, then settle it on the "
                "Holdings screen."
            )

    # ------------------------------------------------------------------ doors
    def open_door(self, task: Task, actor: Identity | None, done: DoorCallback) -> bool:
        """Open the task's locker on a door thread; ``done`` gets the outcome on that thread.

        Refused (False) once a lock has taken the task over: nothing opens after a lock. If a
        lock lands while the door is open, ``done`` is not called; the notes say how it ended.
        """
        with self._guard:
            if task.lock_pending:
                return False
            task.door_running = True
        self.touch()
        self._spawn("door", lambda: self._door_step(task, actor, done))
        return True

    def _door_step(self, task: Task, actor: Identity | None, done: DoorCallback) -> None:
        result: DoorResult | BulkResult | None = None
        error: Exception | None = None
        try:
            if task.kind is TaskKind.EXAM_RELEASE:
                assert actor is not None and task.session_id is not None
                result = self.station.release_exam_session(actor, task.session_id)
            else:
                assert task.holding is not None
                if task.kind is TaskKind.RELEASE:
                    result = self.station.release(actor, task.holding)
                else:
                    self._tray_photo(task)
                    result = self.station.deposit(actor, task.holding)
        except Exception as exc:
            log.exception("door step failed")
            error = exc
        unsettled = self._unsettled(task) if error is not None else None
        with self._guard:
            task.door_running = False
            self.touch()
            if isinstance(result, BulkResult):
                task.holdings = list(result.holdings) or task.holdings
                task.door_opened = result.outcome == "not_closed"
            elif result is not None:
                if result.outcome != "not_closed":
                    task.holding = result.holding
                # "not_closed": the pulse opened the door and nobody closed it in time.
                task.door_opened = result.outcome == "not_closed"
            else:
                # The step failed part-way: the door may have opened. Unsettled if the ledger
                # still has it half-way (or could not be read).
                if task.kind is TaskKind.EXAM_RELEASE and unsettled:
                    task.holdings = unsettled
                task.door_opened = unsettled is None or bool(unsettled)
            task.settled = result is not None and not task.door_opened
            locked = task.lock_pending
            if locked:
                self.end_task(task)
        if locked:
            self._late_note(after_lock_note(task, result), task)
            return
        done(DoorOutcome(task, result, error))

    def _unsettled(self, task: Task) -> list[HoldingView] | None:
        """After a failed door step: what the ledger says is still half-way (None: unread)."""
        try:
            if task.kind is TaskKind.EXAM_RELEASE:
                return [
                    h
                    for h in self.custody.holdings(None, open_only=True)
                    if h.exam_session_id == task.session_id and h.state is HoldingState.RELEASING
                ]
            if task.holding is None:
                return []
            now = self.custody.holding(None, task.holding.id)
            return [now] if now.state in HALF_WAY_STATES else []
        except Exception:
            log.exception("ledger not readable after a failed door step")
            return None

    def _tray_photo(self, task: Task) -> None:
        """Photo of the tray where a camera is fitted (no camera: nothing happens)."""
        if task.holding is None or task.kind is TaskKind.EXAM_DEPOSIT:
            return
        try:
            if self.station.capture_tray_photo(None, task.holding):
                task.notes.append("Tray photo taken (kept on this kiosk only).")
        except Exception as exc:
            task.notes.append(f"Tray photo not taken: {exc}")


def unfinished_note(task: Task) -> str:
    """A door opened and the step was not settled: where staff settle it (no pupil names)."""
    if task.kind is TaskKind.EXAM_RELEASE:
        ids = ", ".join(f"#{h.id}" for h in task.holdings)
        pouches = f" (pouches {ids})" if ids else ""
        return (
            f"{task.public_name()} is unfinished{pouches}: check the cabinet, then settle "
            "them on the Holdings screen, or press b on the Exam screen to open it again."
        )
    h = task.holding
    if h is None:  # a door step always has its holding; kept safe for the public screen
        return f"{task.public_name()} is unfinished: check the Holdings screen."
    return (
        f"{task.noun} #{h.id} in {h.locker} is unfinished: check the locker, then settle it "
        "on the Holdings screen."
    )


def after_lock_note(task: Task, result: DoorResult | BulkResult | None) -> str:
    """How a door step that outlived a lock ended, for the public idle screen."""
    name = task.public_name()
    if task.door_opened:
        return unfinished_note(task)
    if result is None:
        return f"{name}: the door step stopped with an error; nothing is left half-way."
    if result.ok:
        return f"{name}: {result.message} (the door was closed after the lock)"
    undone = {
        TaskKind.DEPOSIT: "nothing is recorded as deposited",
        TaskKind.EXAM_DEPOSIT: "nothing is recorded as deposited",
        TaskKind.SAFEKEEPING: "nothing is recorded as deposited",
        TaskKind.RELEASE: "the phone is still held",
        TaskKind.EXAM_RELEASE: "every pouch is still held",
    }.get(task.kind, "nothing was changed")
    return f"{name}: the locker did not open ({result.outcome.replace('_', ' ')}); {undone}."
