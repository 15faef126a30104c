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
from typing import Any

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
from kiosk.station import DoorResult, Station
from tui.messages import HardwareEvent, StationStarted
from tui.task import Task

log = logging.getLogger(__name__)

DoorCallback = Callable[[DoorResult | None, Exception | None], None]


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
        """Sign out, undo or settle the task in hand, and show the idle screen saying so."""
        who = self.identity
        notes = [why]
        if who is not None:
            self._sign_out(who, why)
        self.identity, self.badge_uid = None, None
        task, self.job = self.job, None
        if task is not None:
            if task.door_running:
                task.lock_pending = True
                self.job = task
                notes.append(
                    f"{task.what}: the locker is open. It is confirmed when the door closes, "
                    "or rolled back if it does not."
                )
            elif task.committed:
                notes.append(f"{task.what}: rolling back...")
                self._rollback(task, who, why)
            else:
                notes.append(f"{task.what} was not saved.")
        self.idle_notes = notes
        self.to_idle()

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

    def add_idle_note(self, note: str) -> None:
        self.idle_notes = [n for n in self.idle_notes if not n.endswith("rolling back...")]
        self.idle_notes.append(note)
        self.refresh_idle()

    @work(thread=True, group="session", exit_on_error=False)
    def _sign_out(self, who: Identity, why: str) -> None:
        try:
            self.custody.sign_out(who, why)
        except Exception:
            log.exception("sign-out event not written")

    @work(thread=True, group="rollback", exit_on_error=False)
    def _rollback(self, task: Task, who: Identity | None, why: str) -> None:
        """Put a committed step back: abort a deposit, or return a release to ``held``."""
        holding = task.holding
        assert holding is not None
        try:
            if task.kind == "release":
                self.custody.cancel_release(who, holding.id, f"locked mid-task: {why}")
                note = f"{task.what} was rolled back: the phone is still held in {holding.locker}."
            else:
                self.custody.abort_deposit(who, holding.id, f"locked mid-task: {why}")
                note = (
                    f"{task.what} was rolled back: nothing is recorded as deposited and "
                    f"{holding.locker} is free again. If a phone is in {holding.locker}, "
                    "take it out and log it again."
                )
        except Exception as exc:
            note = f"{task.what} could not be rolled back ({exc}); it is listed for review."
        self.call_from_thread(self.add_idle_note, note)

    # ------------------------------------------------------------------ doors
    def begin_task(self, what: str, kind: str) -> Task:
        self.job = Task(what, kind)
        return self.job

    def end_task(self, task: Task | None = None) -> None:
        if task is None or self.job is task:
            self.job = None

    def run_door(self, task: Task, actor: Identity | None, done: DoorCallback) -> None:
        """Open the task's locker in a worker; ``done`` gets the result on the UI thread."""
        task.door_running = True
        self._door_worker(task, actor, done)

    @work(thread=True, group="door", exit_on_error=False)
    def _door_worker(self, task: Task, actor: Identity | None, done: DoorCallback) -> None:
        result: DoorResult | None = None
        error: Exception | None = None
        try:
            assert task.holding is not None
            if task.kind == "release":
                result = self.station.release(actor, task.holding)
            else:
                self._tray_photo(task)
                result = self.station.deposit(actor, task.holding)
        except Exception as exc:
            log.exception("door step failed")
            error = exc
        self.call_from_thread(self._door_finished, task, actor, result, error, done)

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
        result: DoorResult | None,
        error: Exception | None,
        done: DoorCallback,
    ) -> None:
        task.door_running = False
        self.touch()
        if task.lock_pending:
            self.end_task(task)
            if result is not None and result.ok:
                self.add_idle_note(f"{task.what}: {result.message} (after the lock)")
            elif result is not None and result.outcome != "not_closed":
                self.add_idle_note(f"{task.what}: {result.message}")
            else:
                self.add_idle_note(f"{task.what}: rolling back...")
                self._rollback(task, actor, "door not closed after the lock")
            return
        if result is not None and result.holding is not None:
            task.holding = result.holding if result.outcome != "not_closed" else task.holding
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
