"""The staff terminal UI at the office hatch: :class:`KioskApp` and :func:`run_app`.

Why the app holds the session, the task and the alarms (and screens hold only their form):
a lock must be able to throw every screen away at any moment and still leave the ledger
consistent (DESIGN.md: screens locked when unattended; nothing half-done survives a lock),
and an alarm raised while nobody is signed in must still be on screen when someone arrives.

Threads: hardware events come from the station's thread and enter the UI only as
:class:`~tui.messages.HardwareEvent` messages; every custody or door call runs in a thread
worker and hands its result back with ``call_from_thread``. The UI never waits on a door.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.scrollbar import ScrollBar, ScrollBarRender

from kiosk.auth import Identity
from kiosk.config import KioskConfig
from kiosk.events import (
    BadgeTapped,
    DoorClosed,
    ForcedOpen,
    LeftOpen,
    ReaderFault,
    ReaderRecovered,
    SensorFault,
)
from kiosk.permissions import Permission
from kiosk.runtime import close_station, open_station, simulator_of
from kiosk.station import Station
from tui.messages import HardwareEvent, StationStarted
from tui.task import Task

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Gets a DoorResult (or, for an exam hand-back, a BulkResult) or the error, on the UI thread.
DoorCallback = Callable[[Any, Exception | None], None]


class ConsoleScrollBarRender(ScrollBarRender):
    """Scrollbars drawn with spaces only: the Linux console font lacks the eighth-blocks."""

    VERTICAL_BARS = [" "] * 8
    HORIZONTAL_BARS = [" "] * 8


ScrollBar.renderer = ConsoleScrollBarRender


class KioskApp(App[None]):
    """One station's staff UI.

    ``idle_lock_seconds`` defaults to the config's ``auth.idle_lock_seconds``; tests pass a
    small value and a short ``lock_check_interval`` so auto-lock can be tested in a second.
    """

    CSS_PATH = ["app.tcss", "signage.tcss"]
    TITLE = "Device Amnesty Kiosk"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("f2", "sim_tap", "Tap a card", show=False, priority=True),
        Binding("f3", "sim_doors", "Doors", show=False, priority=True),
    ]

    def __init__(
        self,
        station: Station,
        *,
        idle_lock_seconds: float | None = None,
        lock_check_interval: float = 1.0,
        login_timeout: float = 30.0,
        start_station: bool = True,
    ) -> None:
        super().__init__()
        self.station = station
        self.custody = station.custody
        self.config = station.ctx.config
        self.profile = station.ctx.profile
        self.simulator = simulator_of(station)
        self.idle_lock_seconds = float(
            idle_lock_seconds
            if idle_lock_seconds is not None
            else self.config.auth.idle_lock_seconds
        )
        self.lock_check_interval = lock_check_interval
        self.login_timeout = login_timeout
        self._start_station = start_station
        self.identity: Identity | None = None
        self.badge_uid: str | None = None
        self.job: Task | None = None
        self.alarms: dict[str, str] = {}
        self.idle_notes: list[str] = []
        self._pending_notes: dict[int, str] = {}
        self.reconcile: list[Any] = []
        self.sim_jammed: set[tuple[str, int]] = set()
        self._last_activity = time.monotonic()
        self._started = False

    # ------------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        from tui.screens.idle import IdleScreen

        self.theme = "ansi-dark"
        self.push_screen(IdleScreen())
        self.station.subscribe(self._from_station)
        if self._start_station:
            self._start()
        self.set_interval(self.lock_check_interval, self._check_idle)
        if self.config.sync.central_url:  # kiosk sync runs apart; its state is in the ledger
            self.set_interval(60, self._check_sync)
            self._check_sync()

    @work(thread=True, group="sync-state", exclusive=True, exit_on_error=False)
    def _check_sync(self) -> None:
        from kiosk.sync.status import staff_banner

        banner = staff_banner(
            self.custody.sessions,
            self.config.station.id,
            self.custody.clock(),
            self.config.sync.backlog_alert_minutes,
        )
        self.call_from_thread(
            self._show_sync, banner.text if banner else None, bool(banner and banner.alarm)
        )

    def _show_sync(self, text: str | None, alarm: bool) -> None:
        """A refusal rings like any alarm; an old backlog is only shown."""
        if text is None:
            self.clear_alarm("sync")
        elif self.alarms.get("sync") == text:
            return
        elif alarm:
            self.raise_alarm("sync", text)
        else:
            self.alarms["sync"] = text
            self._refresh_banners()

    def on_unmount(self) -> None:
        if self._started:
            self.station.stop()
            self._started = False

    @work(thread=True, group="station", exit_on_error=False)
    def _start(self) -> None:
        """Drive locks off, start readers and the door monitor, collect reconcile items."""
        try:
            items = self.station.start()
        except Exception as exc:
            log.exception("station start failed")
            self.post_message(StationStarted([], f"Hardware did not start: {exc}"))
            return
        self._started = True
        self.post_message(StationStarted(list(items)))

    def on_station_started(self, message: StationStarted) -> None:
        self.reconcile = message.reconcile
        if message.error:
            self.raise_alarm("station", message.error)
        self.refresh_idle()

    def _from_station(self, event: object) -> None:
        """Station listener: runs on the station's thread, so only posts a message."""
        self.post_message(HardwareEvent(event))

    # ------------------------------------------------------------------ activity and lock
    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown) and not event.is_forwarded:
            self.touch()
        await super().on_event(event)

    def touch(self) -> None:
        """Someone did something: restart the inactivity clock."""
        self._last_activity = time.monotonic()

    def _check_idle(self) -> None:
        if self.identity is None or (self.job is not None and self.job.door_running):
            return  # a door step in progress means someone is at the locker
        if time.monotonic() - self._last_activity >= self.idle_lock_seconds:
            self.lock(f"Locked after {int(self.idle_lock_seconds)} s with no input.")

    def signed_in(self, identity: Identity, badge_uid: str) -> None:
        """Called by the PIN screen. Whatever was on screen goes; the person starts at home."""
        from tui.screens.home import HomeScreen

        self.identity, self.badge_uid = identity, badge_uid
        self.idle_notes = []
        self.touch()
        self.to_idle()
        self.push_screen(HomeScreen())

    def lock_for_self_service(self, opener: Identity) -> None:
        """The exams officer hands the kiosk to candidates: sign out, keep nothing open."""
        self._sign_out(opener, "exam self-service opened")
        self.identity, self.badge_uid, self.job = None, None, None
        self.idle_notes = []
        self.to_idle()

    def lock(self, why: str) -> None:
        """Sign out, settle the task in hand as far as is safe, and show the idle screen.

        The idle screen faces the public: every note names the work by holding number and
        locker only (:meth:`Task.public_name`), never the pupil.
        """
        who = self.identity
        notes = [why]
        if who is not None:
            self._sign_out(who, why)
        self.identity, self.badge_uid = None, None
        task, self.job = self.job, None
        if task is not None:
            notes.append(self._lock_task(task, who, why))
        self.idle_notes = notes
        self.clear_notifications()  # toasts of the last screen may name a pupil
        self.to_idle()

    def _lock_task(self, task: Task, who: Identity | None, why: str) -> str:
        """What a lock does to the task in hand; returns the note for the idle screen.

        Never a rollback by guessing: once the lock pulse has opened the door (or a door step
        failed part-way) the holding stays ``depositing``/``releasing`` for staff to settle.
        Only work whose door was never pulsed is rolled back here.
        """
        saving, committed = task.take_over(who, why)
        name = task.public_name()
        if task.door_running:
            self.job = task  # the door worker reports when the door step ends
            note = (
                f"{name}: the locker is open. It is confirmed when the door closes; if it "
                "is not closed in time it is left for staff to check and settle."
            )
        elif task.door_opened:
            return unfinished_note(task)
        elif committed:
            note = f"{name}: rolling back (its locker was never opened)..."
            self._rollback(task)
        elif saving:
            note = f"{name} was being saved: undoing it (its locker was never opened)..."
        else:
            return f"{name} was not saved."
        self._pending_notes[id(task)] = note
        return note

    def to_idle(self) -> None:
        """Pop every screen down to the idle screen."""
        from tui.screens.idle import IdleScreen

        while len(self.screen_stack) > 1 and not isinstance(self.screen, IdleScreen):
            self.pop_screen()
        self.refresh_idle()

    def refresh_idle(self) -> None:
        from tui.screens.idle import IdleScreen

        for screen in self.screen_stack:
            if isinstance(screen, IdleScreen):
                screen.refresh_notes()

    def add_idle_note(self, note: str, task: Task | None = None) -> None:
        """A late note for the idle screen; it replaces ``task``'s "rolling back..." note."""
        pending = self._pending_notes.pop(id(task), None) if task is not None else None
        if pending is not None and pending in self.idle_notes:
            self.idle_notes[self.idle_notes.index(pending)] = note
        else:
            self.idle_notes.append(note)
        self.refresh_idle()

    @work(thread=True, group="session", exit_on_error=False)
    def _sign_out(self, who: Identity, why: str) -> None:
        try:
            self.custody.sign_out(who, why)
        except Exception:
            log.exception("sign-out event not written")

    @work(thread=True, group="rollback", exit_on_error=False)
    def _rollback(self, task: Task) -> None:
        """Put back a step whose door was never pulsed (worker thread)."""
        note = self._rollback_now(task)
        self.call_from_thread(self.add_idle_note, note, task)

    def _rollback_now(self, task: Task) -> str:
        """Abort a deposit or return a release to ``held``; runs on a worker thread.

        Only for a holding whose locker was never opened, so nothing can be in (or missing
        from) the locker that the record does not say.
        """
        holding, who, why = task.holding, task.lock_actor, task.lock_why
        assert holding is not None
        name = task.public_name()
        try:
            if task.kind == "release":
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

    def commit_step(self, task: Task, fn: Callable[[], T], holding_of: Callable[[T], Any]) -> T:
        """Run ``fn`` (confiscate / begin_release) on the calling worker thread.

        The holding it writes is recorded on ``task`` here, on the worker, before the
        result goes back to the screen; so a lock always knows a holding exists. If a lock
        landed while saving, the holding is rolled back at once (its door never opened)
        and the idle screen says so; the screen's callback is dropped with the screen.
        A lock that landed before the worker started means nothing is written at all.
        """
        task.start_saving()  # raises TaskLocked after a lock: nothing written
        try:
            result = fn()
        except Exception:
            if not task.saved(None):
                self.call_from_thread(
                    self.add_idle_note, f"{task.public_name()} was not saved.", task
                )
            raise
        if not task.saved(holding_of(result)):
            note = self._rollback_now(task)
            self.call_from_thread(self.add_idle_note, note, task)
        return result

    # ------------------------------------------------------------------ doors
    def begin_task(self, kind: str) -> Task:
        self.job = Task(kind)
        return self.job

    def end_task(self, task: Task | None = None) -> None:
        if task is None or self.job is task:
            self.job = None

    def run_door(self, task: Task, actor: Identity | None, done: DoorCallback) -> bool:
        """Open the task's locker in a worker; ``done`` gets the result on the UI thread.

        Refused (False) once a lock has taken the task over: nothing opens after a lock.
        """
        if task.lock_pending:
            return False
        task.door_running = True
        self.touch()
        self._door_worker(task, actor, done)
        return True

    @work(thread=True, group="door", exit_on_error=False)
    def _door_worker(self, task: Task, actor: Identity | None, done: DoorCallback) -> None:
        result: Any = None
        error: Exception | None = None
        try:
            if task.kind == "exam_release":
                assert actor is not None and task.session_id is not None
                result = self.station.release_exam_session(actor, task.session_id)
            else:
                assert task.holding is not None
                if task.kind == "release":
                    result = self.station.release(actor, task.holding)
                else:
                    self._tray_photo(task)
                    result = self.station.deposit(actor, task.holding)
        except Exception as exc:
            log.exception("door step failed")
            error = exc
        unsettled = self._unsettled(task) if error is not None else None
        self.call_from_thread(self._door_finished, task, actor, result, error, done, unsettled)

    def _unsettled(self, task: Task) -> list[Any] | None:
        """After a failed door step: what the ledger says is still half-way (worker thread).

        The door may or may not have opened; the ledger is read, not guessed. None if it
        could not be read (treated as unsettled by the caller).
        """
        try:
            if task.kind == "exam_release":
                return [
                    h
                    for h in self.custody.holdings(None, open_only=True)
                    if h.exam_session_id == task.session_id and h.state == "releasing"
                ]
            if task.holding is None:
                return []
            now = self.custody.holding(None, task.holding.id)
            return [now] if now.state in ("depositing", "releasing") else []
        except Exception:
            log.exception("ledger not readable after a failed door step")
            return None

    def _tray_photo(self, task: Task) -> None:
        """Photo of the tray where a camera is fitted (no camera: nothing happens)."""
        if task.holding is None or task.kind == "exam_deposit":
            return
        try:
            if self.station.capture_tray_photo(None, task.holding):
                task.notes.append("Tray photo taken (kept on this kiosk only).")
        except Exception as exc:
            task.notes.append(f"Tray photo not taken: {exc}")

    def _door_finished(
        self,
        task: Task,
        actor: Identity | None,
        result: Any,
        error: Exception | None,
        done: DoorCallback,
        unsettled: list[Any] | None = None,
    ) -> None:
        task.door_running = False
        self.touch()
        if result is not None:
            if isinstance(getattr(result, "holdings", None), list):
                task.holdings = list(result.holdings) or task.holdings
            elif result.holding is not None and result.outcome != "not_closed":
                task.holding = result.holding
            # "not_closed": the pulse opened the door and nobody closed it in time.
            task.door_opened = result.outcome == "not_closed"
        else:
            # The step failed part-way: the door may have opened. Unsettled if the ledger
            # still has it half-way (or could not be read).
            if task.kind == "exam_release" and unsettled:
                task.holdings = unsettled
            task.door_opened = unsettled is None or bool(unsettled)
        if task.lock_pending:
            self.end_task(task)
            self.add_idle_note(after_lock_note(task, result), task)
            return
        done(result, error)

    # ------------------------------------------------------------------ hardware events
    def on_hardware_event(self, message: HardwareEvent) -> None:
        ev = message.event
        if isinstance(ev, BadgeTapped):
            self.touch()
            self.card_tapped(ev.uid)
            return
        if isinstance(ev, ForcedOpen):
            self.raise_alarm(
                f"forced:{ev.bank}{ev.number}",
                f"ALARM: locker {ev.bank}{ev.number} was forced open. Check it now.",
            )
        elif isinstance(ev, LeftOpen):
            self.raise_alarm(
                f"left:{ev.bank}{ev.number}",
                f"Locker {ev.bank}{ev.number} left open ({int(ev.seconds)} s). Close it.",
            )
        elif isinstance(ev, DoorClosed):
            self.clear_alarm(f"left:{ev.bank}{ev.number}")
        elif isinstance(ev, SensorFault):
            self.raise_alarm(
                f"sensor:{ev.bank}{ev.number}",
                f"Door sensor {ev.bank}{ev.number} unreadable: call the technician.",
            )
        elif isinstance(ev, ReaderFault):
            self.raise_alarm(
                f"reader:{ev.reader}",
                f"Badge reader '{ev.reader}' not answering ({ev.detail}).",
            )
        elif isinstance(ev, ReaderRecovered):
            self.clear_alarm(f"reader:{ev.reader}")
        handler = getattr(self.screen, "hardware_event", None)
        if handler is not None:
            handler(ev)

    def raise_alarm(self, key: str, text: str) -> None:
        self.alarms[key] = text
        self.bell()
        self._refresh_banners()

    def clear_alarm(self, key: str) -> None:
        if self.alarms.pop(key, None) is not None:
            self._refresh_banners()

    def acknowledge_alarms(self) -> None:
        """Forced/left-open alarms are cleared by a person; faults clear when fixed."""
        self.alarms = {
            k: v for k, v in self.alarms.items() if k.startswith(("reader:", "sensor:", "station"))
        }
        self._refresh_banners()

    def _refresh_banners(self) -> None:
        from tui.widgets.alarm_banner import AlarmBanner

        for banner in self.screen.query(AlarmBanner):
            banner.show(self.alarms)

    # ------------------------------------------------------------------ cards
    def card_tapped(self, uid: str) -> None:
        """Route a tap: the screen first, then staff badge (sign in/out) or pupil card."""
        handler = getattr(self.screen, "card_tapped", None)
        if self.identity is None:
            if handler is not None and handler(uid):
                return
            self.begin_login(uid)
            return
        if uid.upper() == (self.badge_uid or "").upper():
            self.lock("Signed out: badge tapped again.")
            return
        if self.identity.can(Permission.VIEW_HOLDINGS):
            self._lookup_card(self.identity, uid)
        else:
            self.lock("Signed out: another badge was tapped.")
            self.begin_login(uid)

    @work(thread=True, group="cards", exit_on_error=False)
    def _lookup_card(self, who: Identity, uid: str) -> None:
        try:
            pupil = self.custody.pupil_by_card(who, uid)
        except Exception as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.call_from_thread(self._card_resolved, uid, pupil)

    def _card_resolved(self, uid: str, pupil: Any) -> None:
        if self.identity is None:
            return
        if pupil is None:
            self.lock("Signed out: another badge was tapped.")
            self.begin_login(uid)
            return
        handler = getattr(self.screen, "pupil_tapped", None)
        if handler is not None:
            handler(pupil)
        else:
            self.notify(f"Card of {pupil.name} ({pupil.tutor_group}).", markup=False)

    def begin_login(self, uid: str) -> None:
        from tui.screens.login import LoginScreen

        if isinstance(self.screen, LoginScreen):
            self.screen.set_badge(uid)
        else:
            self.push_screen(LoginScreen(uid))

    # ------------------------------------------------------------------ simulator
    def action_sim_tap(self) -> None:
        from tui.widgets.simulator_panel import CardPicker

        if self.simulator is not None and not isinstance(self.screen, CardPicker):
            self.push_screen(CardPicker())

    def action_sim_doors(self) -> None:
        from tui.widgets.simulator_panel import DoorPanel

        if self.simulator is not None and not isinstance(self.screen, DoorPanel):
            self.push_screen(DoorPanel())


def unfinished_note(task: Task) -> str:
    """A door opened and the step was not settled: where staff settle it (no pupil names)."""
    if task.kind == "exam_release":
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


def after_lock_note(task: Task, result: Any) -> str:
    """How a door step that outlived a lock ended, for the public idle screen."""
    name = task.public_name()
    if task.door_opened:
        return unfinished_note(task)
    if result is None:
        return f"{name}: the door step stopped with an error; nothing is left half-way."
    if result.ok:
        return f"{name}: {result.message} (the door was closed after the lock)"
    undone = {
        "deposit": "nothing is recorded as deposited",
        "exam_deposit": "nothing is recorded as deposited",
        "release": "the phone is still held",
        "exam_release": "every pouch is still held",
    }.get(task.kind, "nothing was changed")
    return f"{name}: the locker did not open ({result.outcome.replace('_', ' ')}); {undone}."


def run_app(config: KioskConfig, *, simulate: bool) -> None:
    """``kiosk run`` / ``kiosk demo``: open the station, run the UI, close everything."""
    try:
        station = open_station(config, simulate=simulate)
    except Exception as exc:  # database not ready, hardware missing: say so, no traceback
        sys.stderr.write(f"kiosk: cannot start the station: {exc}\n")
        raise SystemExit(2) from exc
    try:
        KioskApp(station).run()
    finally:
        close_station(station)
