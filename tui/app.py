"""The staff terminal UI at the office hatch: :class:`KioskApp` and :func:`run_app`.

The app is a view on :class:`kiosk.service.StationService`: the service owns the doors, the
alarms and the task in progress with its lock/roll-back/leave-for-staff rules; the app holds
who is signed in, routes card taps to screens and renders the service's state. A lock here
throws every screen away and asks the service to settle the task (DESIGN.md: screens locked
when unattended; nothing half-done survives a lock).

Threads: everything the service reports (hardware events, alarms, notes, door outcomes)
comes from its threads and enters the UI only as :class:`~tui.messages.StationNews` messages
or through ``call_from_thread``. Every custody or door call runs off the UI thread; the UI
never waits on a door.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.scrollbar import ScrollBar, ScrollBarRender

from kiosk.permissions import Permission
from tui.messages import (
    HardwareNews,
    ResumesAfterSignIn,
    StationNews,
    TakesCards,
    TakesCardTaps,
    TakesPupils,
)
from tui.widgets.text import safe

if TYPE_CHECKING:  # the station's modules load after the first frame (issue 15, start-up)
    from kiosk.auth import Identity
    from kiosk.config import KioskConfig
    from kiosk.service import DoorOutcome, StationService
    from kiosk.simulator_port import SimulatorPort
    from kiosk.station import ReconcileItem
    from kiosk.task import Task, TaskKind
    from kiosk.views import CardTap, PupilView

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Gets the door step's outcome on the UI thread.
DoorCallback = Callable[["DoorOutcome"], None]


class ConsoleScrollBarRender(ScrollBarRender):
    """Scrollbars drawn with spaces only: the Linux console font lacks the eighth-blocks."""

    VERTICAL_BARS = [" "] * 8
    HORIZONTAL_BARS = [" "] * 8


ScrollBar.renderer = ConsoleScrollBarRender


class StationOpened(Message):
    """The opener thread has the station (or the error that stopped it)."""

    def __init__(self, service: StationService | None, error: BaseException | None) -> None:
        super().__init__()
        self.service, self.error = service, error


class KioskApp(App[None]):
    """One station's staff UI.

    ``idle_lock_seconds`` defaults to the config's ``auth.idle_lock_seconds``; tests pass a
    small value and a short ``lock_check_interval`` so auto-lock can be tested in a second.

    Either ``service`` (an open station: tests) or ``config`` and ``opener`` (``kiosk run``):
    then the first frame is :class:`~tui.screens.starting.StartingScreen` and ``opener``
    runs in a thread after it, so first paint waits for Textual and the config only
    (issue 15); the idle screen follows when the station is open.
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
        service: StationService | None = None,
        *,
        config: KioskConfig | None = None,
        opener: Callable[[], StationService] | None = None,
        idle_lock_seconds: float | None = None,
        lock_check_interval: float = 1.0,
        login_timeout: float = 30.0,
        start_station: bool = True,
        demo: bool = False,
    ) -> None:
        super().__init__()
        #: ``kiosk demo`` (set by its launcher): the one place one key may end the UI.
        self.demo = demo
        self.simulator: SimulatorPort | None = None
        #: Set by the opener thread: the station ``run_app`` must close, or why it failed.
        self.opened: StationService | None = None
        self.open_error: BaseException | None = None
        self._opener = opener
        self._opener_thread: threading.Thread | None = None
        self.ready = False
        if service is not None:
            self._attach_station(service)
        elif config is not None and opener is not None:
            self.config = config
        else:
            raise TypeError("KioskApp needs a service, or a config and an opener")
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

    # ------------------------------------------------------------------ service state
    @property
    def job(self) -> Task | None:
        """The task in progress (owned by the service)."""
        return self.service.task

    @property
    def alarms(self) -> dict[str, str]:
        return self.service.alarms

    @property
    def idle_notes(self) -> list[str]:
        return self.service.notes

    @property
    def reconcile(self) -> tuple[ReconcileItem, ...]:
        return self.service.reconcile

    # ------------------------------------------------------------------ lifecycle
    def _attach_station(self, service: StationService) -> None:
        from kiosk.runtime import simulator_of

        self.service = service
        self.station = service.station
        self.custody = service.custody
        self.config = self.station.ctx.config
        self.profile = self.station.ctx.profile
        self.simulator = simulator_of(self.station)
        self.ready = True

    def on_mount(self) -> None:
        self.theme = "ansi-dark"
        if self.ready:
            self._go_live()
            return
        from tui.screens.starting import StartingScreen

        self.push_screen(StartingScreen(self.config.station.id))

    def on_ready(self) -> None:
        """After the first frame: open the station in a thread (its imports would hold the
        GIL against the first paint if started earlier)."""
        if self.ready or self._opener is None or self._opener_thread is not None:
            return
        opener = self._opener

        def open_station() -> None:
            try:
                service = opener()
            except Exception as exc:  # database not ready, hardware busy: run_app says so
                self.open_error = exc
                self.post_message(StationOpened(None, exc))
                return
            self.opened = service  # run_app closes it even if the app ended meanwhile
            self.post_message(StationOpened(service, None))

        self._opener_thread = threading.Thread(target=open_station, name="open-station")
        self._opener_thread.start()

    def join_opener(self) -> None:
        """Wait for the opener thread (``run_app``, after the app ended)."""
        if self._opener_thread is not None:
            self._opener_thread.join()

    def on_station_opened(self, message: StationOpened) -> None:
        if message.service is None:
            self.exit(return_code=2)
            return
        if not self.is_running:  # the UI ended while the station opened: run_app closes it
            return
        self._attach_station(message.service)
        self._go_live()

    def _go_live(self) -> None:
        """The station is open: the idle screen, the service's news, the timers."""
        from tui.screens.idle import IdleScreen
        from tui.screens.starting import StartingScreen

        if isinstance(self.screen, StartingScreen):
            self.switch_screen(IdleScreen())
        else:
            self.push_screen(IdleScreen())
        self.service.subscribe(self._from_station)
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
        self.service.show_sync_state(banner.text if banner else None, bool(banner and banner.alarm))

    def on_unmount(self) -> None:
        if not self.ready:
            return
        self.service.unsubscribe(self._from_station)
        self.service.stop()

    @work(thread=True, group="station", exit_on_error=False)
    def _start(self) -> None:
        """Drive locks off, start readers and the door monitor (its news comes as messages)."""
        self.service.start()

    def _from_station(self, news: object) -> None:
        """Service listener: runs on the service's threads, so only posts a message."""
        self.post_message(StationNews(news))

    def on_station_news(self, message: StationNews) -> None:
        if not self.screen_stack:
            # The app is shutting down (its screens are gone, news posted before unmount is
            # still queued): the station keeps the record; there is no view left to update.
            return
        from kiosk.events import BadgeTapped
        from kiosk.service import AlarmsChanged, NotesChanged, StationStarted

        news = message.news
        if isinstance(news, StationStarted | NotesChanged):
            self.refresh_idle()
        elif isinstance(news, AlarmsChanged):
            if news.raised:
                self.bell()
            self._refresh_banners()
        elif isinstance(news, BadgeTapped):
            self.card_tapped(news.uid)
        elif self.screen_stack:  # hardware news landing while the app shuts down is dropped
            self.screen.post_message(HardwareNews(news))

    # ------------------------------------------------------------------ activity and lock
    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown) and not event.is_forwarded:
            self.touch()
        await super().on_event(event)

    def touch(self) -> None:
        """Someone did something: restart the inactivity clock."""
        if self.ready:
            self.service.touch()

    def _check_idle(self) -> None:
        if self.identity is not None and self.service.auto_lock_due(self.idle_lock_seconds):
            self.lock(f"Locked after {int(self.idle_lock_seconds)} s with no input.")

    def signed_in(self, identity: Identity, badge_uid: str) -> None:
        """Called by the PIN screen. Whatever was on screen goes; the person starts at home."""
        from tui.screens.home import HomeScreen

        self.identity, self.badge_uid = identity, badge_uid
        self.service.clear_notes()
        self.touch()
        # A screen that hands over on sign-in (exam self-service: the officer goes back to
        # the exam screen, issue 14) says where to, before every screen is thrown away.
        resume = next(
            (sc for sc in reversed(self.screen_stack) if isinstance(sc, ResumesAfterSignIn)),
            None,
        )
        after = resume.after_sign_in(identity) if resume is not None else None
        self.to_idle()
        self.push_screen(HomeScreen())
        if after is not None:
            self.push_screen(after)
        self._ask_checks(identity)

    @work(thread=True, group="checks", exit_on_error=False)
    def _ask_checks(self, who: Identity) -> None:
        """Phones behind a forced door wait for the next sign-in to check them (issue 14).

        Whether this person may see them is the use-case's rule (``VIEW_HOLDINGS``): a
        technician is refused there and simply not asked."""
        from kiosk.auth import NotPermitted

        try:
            flagged = self.custody.holdings_to_check(who)
        except NotPermitted:
            return
        except Exception:
            log.exception("could not read the holdings to check")
            return
        if flagged:
            self.call_from_thread(self._show_checks, who)

    def _show_checks(self, who: Identity) -> None:
        from tui.screens.checks import ChecksScreen

        if self.identity is who and not isinstance(self.screen, ChecksScreen):
            self.push_screen(ChecksScreen())

    def lock_for_self_service(self, opener: Identity) -> None:
        """The exams officer hands the kiosk to candidates: sign out, keep nothing open."""
        self.service.sign_out_for_self_service(opener)
        self.identity, self.badge_uid = None, None
        self.clear_notifications()  # the candidates see the screen next: as for a lock
        self.to_idle()

    def lock(self, why: str) -> None:
        """Sign out, let the service settle the task in hand, and show the idle screen."""
        who = self.identity
        self.identity, self.badge_uid = None, None
        self.service.lock(who, why)
        self.clear_notifications()  # toasts of the last screen may name a pupil
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

    # ------------------------------------------------------------------ the task (service)
    def begin_task(self, kind: TaskKind) -> Task:
        return self.service.begin_task(kind)

    def end_task(self, task: Task | None = None) -> None:
        self.service.end_task(task)

    def run_door(self, task: Task, actor: Identity | None, done: DoorCallback) -> bool:
        """Ask the service to open the task's locker; ``done`` runs on the UI thread.

        Refused (False) once a lock has taken the task over: nothing opens after a lock.
        """
        return self.service.open_door(task, actor, lambda out: self.call_from_thread(done, out))

    # ------------------------------------------------------------------ alarms
    def acknowledge_alarms(self) -> None:
        """Only a signed-in person may clear door alarms, and is recorded doing so."""
        if self.identity is None:
            self.notify("Sign in to acknowledge the alarms.", severity="warning")
            return
        self._acknowledge(self.identity)

    @work(thread=True, group="alarms", exit_on_error=False)
    def _acknowledge(self, who: Identity) -> None:
        """The acknowledgement is an event written to the ledger (SQLite, ``busy_timeout``):
        off the UI thread, like every other use-case call (DESIGN "Conventions")."""
        from kiosk.auth import NotPermitted

        try:
            self.service.acknowledge_alarms(who)
        except NotPermitted as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
        except Exception:
            log.exception("could not record the alarm acknowledgement")
            self.call_from_thread(
                self.notify,
                "The acknowledgement could not be recorded: the alarms stay up. Tell the "
                "technician.",
                severity="error",
            )

    def _refresh_banners(self) -> None:
        from tui.widgets.alarm_banner import AlarmBanner

        for banner in self.screen.query(AlarmBanner):
            banner.show(self.alarms)

    # ------------------------------------------------------------------ cards
    def card_tapped(self, uid: str) -> None:
        """Route a tap: the screen first, then staff badge (sign in/out) or pupil card."""
        screen = self.screen
        if self.identity is None:
            if isinstance(screen, TakesCards) and screen.card_tapped(uid):
                return
            self.begin_login(uid)
            return
        if isinstance(screen, TakesCards) and screen.card_tapped(uid):
            return  # e.g. the Staff screen waiting for a new badge to enrol
        if uid.upper() == (self.badge_uid or "").upper():
            self.lock("Signed out: badge tapped again.")
            return
        if self.identity.can(Permission.VIEW_HOLDINGS):
            # A screen that acts on the pupil's holdings gets them in the same read.
            self._lookup_card(self.identity, uid, with_holdings=isinstance(screen, TakesCardTaps))
        else:
            self._check_pupil_card(self.identity, uid)

    @work(thread=True, group="cards", exit_on_error=False)
    def _check_pupil_card(self, who: Identity, uid: str) -> None:
        """A role with no pupil data (technician): a pupil's card says so and changes
        nothing; any other card is another person's badge (issue 14, "At the hatch")."""
        try:
            pupils = self.custody.is_pupil_card(who, uid)
        except Exception as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.call_from_thread(self._pupil_card_checked, who, uid, pupils)

    def _pupil_card_checked(self, who: Identity, uid: str, pupils: bool) -> None:
        if self.identity is not who:
            return
        if pupils:
            self.notify(
                "That was a pupil's card: your role sees no pupil data, so nothing was done. "
                "You are still signed in.",
                severity="warning",
                markup=False,
            )
            return
        self.lock("Signed out: another badge was tapped.")
        self.begin_login(uid)

    @work(thread=True, group="cards", exit_on_error=False)
    def _lookup_card(self, who: Identity, uid: str, *, with_holdings: bool = False) -> None:
        """Who the card is (and, for a screen that acts on holdings, what of theirs is held):
        one use-case call, so one read transaction per tap (issue 15)."""
        try:
            found: CardTap | PupilView | None
            if with_holdings:
                found = self.custody.card_tapped(who, uid)
            else:
                found = self.custody.pupil_by_card(who, uid)
        except Exception as exc:
            self.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.call_from_thread(self._card_resolved, uid, found)

    def _card_resolved(self, uid: str, found: CardTap | PupilView | None) -> None:
        from kiosk.views import CardTap

        if self.identity is None:
            return
        tap, pupil = (found, found.pupil) if isinstance(found, CardTap) else (None, found)
        if pupil is None:
            self.lock("Signed out: another badge was tapped.")
            self.begin_login(uid)
            return
        screen = self.screen
        if tap is not None and isinstance(screen, TakesCardTaps):
            screen.card_looked_up(tap)
        elif isinstance(screen, TakesPupils):
            screen.pupil_tapped(pupil)
        else:
            self.notify(
                f"Pupil card: {pupil.name} ({pupil.tutor_group}). Nothing was done; you are "
                "still signed in.",
                markup=False,
            )

    def begin_login(self, uid: str) -> None:
        from tui.screens.login import LoginScreen

        if isinstance(self.screen, LoginScreen):
            self.screen.set_badge(uid)
        else:
            self.push_screen(LoginScreen(uid))

    # ------------------------------------------------------------------ notifications
    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast (screens' too) carries names and reasons: plain text, controls
        escaped, unless a caller asks for markup with text it wrote itself."""
        if not markup:
            message, title = safe(message), safe(title)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    # ------------------------------------------------------------------ quitting
    async def action_quit(self) -> None:
        """Every quit (Ctrl+Q, a stray ``app.quit`` link) lands here: the console is not an
        exit. A configured station ends only for a signed-in technician or senior
        (``Permission.QUIT_CONSOLE``; issue 9, "The console is not an exit"); ``kiosk demo``
        quits at once."""
        if self.demo or (self.identity is not None and self.identity.can(Permission.QUIT_CONSOLE)):
            self.exit()
            return
        self.notify(
            "Quitting the kiosk needs a technician or senior: sign in with your badge first.",
            severity="warning",
            markup=False,
        )

    # ------------------------------------------------------------------ simulator
    def action_sim_tap(self) -> None:
        from tui.widgets.simulator_panel import CardPicker

        if self.simulator is not None and not isinstance(self.screen, CardPicker):
            self.push_screen(CardPicker())

    def action_sim_doors(self) -> None:
        from tui.widgets.simulator_panel import DoorPanel

        if self.simulator is not None and not isinstance(self.screen, DoorPanel):
            self.push_screen(DoorPanel())


def run_app(config: KioskConfig, *, simulate: bool, demo: bool = False) -> None:
    """``kiosk run`` / ``kiosk demo``: paint, open the station after the first frame, run
    the UI, close everything (the station too if the UI ended while it was opening)."""

    def opener() -> StationService:
        from kiosk.memory import freeze_startup_heap
        from kiosk.runtime import open_station
        from kiosk.service import StationService

        station = open_station(config, simulate=simulate, purpose="kiosk run (staff UI)")
        service = StationService(station)
        freeze_startup_heap()  # full collections no longer walk it at a tap (kiosk/memory.py)
        return service

    app = KioskApp(config=config, opener=opener, demo=demo)
    try:
        app.run()
    finally:
        app.join_opener()
        if app.opened is not None:
            from kiosk.runtime import close_station

            close_station(app.opened.station)
    if app.open_error is not None:  # database not ready, hardware busy or missing: say so
        sys.stderr.write(f"kiosk: cannot start the station: {app.open_error}\n")
        raise SystemExit(2) from app.open_error
