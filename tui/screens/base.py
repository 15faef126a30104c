"""What every staff screen shares: alarm banner, title line, footer, simulator strip, and a
safe way to call the custody use-cases off the UI thread.

Why one ``call`` helper: every use-case may block on SQLite (WAL, ``busy_timeout``) and may
refuse with a message for staff; doing both the same way everywhere keeps the UI responsive
and makes sure no refusal is ever swallowed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, OptionList, Static
from textual.worker import Worker, get_current_worker

from kiosk.auth import AuthError, Identity, NotPermitted
from kiosk.custody import CustodyError, PolicyRefused
from kiosk.pin_rules import PinRejected
from kiosk.staff_admin import StaffAdminError
from kiosk.task import TaskLocked
from tui.widgets.alarm_banner import AlarmBanner
from tui.widgets.pupil_search import PupilSearch
from tui.widgets.simulator_panel import SimulatorStrip
from tui.widgets.text import Plain, option, safe

if TYPE_CHECKING:
    from kiosk.views import PupilView
    from tui.app import KioskApp

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Errors whose message is written for staff and is shown as is.
STAFF_ERRORS = (CustodyError, NotPermitted, AuthError, TaskLocked, PinRejected, StaffAdminError)


class KioskScreen(Screen[None]):
    """Base for all kiosk screens. Subclasses implement :meth:`compose_body`."""

    #: Shown after the station name and the signed-in person.
    HEADING = ""

    @property
    def kiosk(self) -> KioskApp:
        return self.app  # type: ignore[return-value]

    @property
    def actor(self) -> Identity:
        """The signed-in person. Screens behind the login only exist while someone is."""
        who = self.kiosk.identity
        if who is None:
            raise NotPermitted("Nobody is signed in.")
        return who

    def compose(self) -> ComposeResult:
        yield AlarmBanner(id="alarms")
        yield Plain(self.title_line(), id="titlebar")
        yield from self.compose_body()
        yield Footer()
        if self.kiosk.simulator is not None:
            yield SimulatorStrip(id="simstrip")

    def compose_body(self) -> ComposeResult:
        yield from ()

    def title_line(self) -> str:
        parts = [self.kiosk.config.station.name]
        if self.kiosk.identity is not None:
            parts.append(self.kiosk.identity.name)
        if self.HEADING:
            parts.append(self.HEADING)
        return "  |  ".join(parts)

    def on_screen_resume(self) -> None:
        for banner in self.query(AlarmBanner):
            banner.show(self.kiosk.alarms)

    # ------------------------------------------------------------------ workers
    def call(
        self,
        fn: Callable[[], T],
        done: Callable[[T], None],
        failed: Callable[[Exception], None] | None = None,
    ) -> None:
        """Run ``fn`` (a custody/station call) in a thread; ``done``/``failed`` on the UI thread.

        Callbacks are dropped if this screen has gone (locked, or the person backed out).
        """
        self._call_worker(fn, done, failed or self.show_problem)

    @work(thread=True, group="custody", exit_on_error=False)
    def _call_worker(
        self,
        fn: Callable[[], Any],
        done: Callable[[Any], None],
        failed: Callable[[Exception], None],
    ) -> None:
        try:
            result = fn()
        except Exception as exc:
            if not isinstance(exc, STAFF_ERRORS):
                log.exception("use-case failed")
            self.app.call_from_thread(self._deliver, failed, exc)
            return
        self.app.call_from_thread(self._deliver, done, result)

    def _deliver(self, callback: Callable[[Any], None], value: Any) -> None:
        if self.is_attached:
            callback(value)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications carry names and reasons: shown as plain text unless asked."""
        super().notify(
            safe(message), title=safe(title), severity=severity, timeout=timeout, markup=markup
        )

    def show_problem(self, exc: Exception) -> None:
        """Default refusal display: a notification in words staff can act on."""
        self.notify(problem_text(exc), severity="error", timeout=8)


class StepForm(KioskScreen):
    """A form in steps (one ``ContentSwitcher``) with a ``#form-error`` line and a door step
    (``#door-text``, ``#door-options``): confiscation, release and the voluntary hand-in.

    A form that starts from a pupil composes a :class:`PupilSearch` and handles its
    ``PupilChosen``; the lookup it asks for is answered here, the same for every form.
    """

    def on_pupil_search_find(self, event: PupilSearch.Find) -> None:
        event.stop()
        self._find_pupils(self.actor, event.search, event.text)

    @work(thread=True, exclusive=True, group="pupil-search", exit_on_error=False)
    def _find_pupils(self, who: Identity, search: PupilSearch, text: str) -> None:
        """The lookup for the words typed, one at a time: a new search cancels the one in
        flight (``exclusive``), and a cancelled one's answer is dropped on the UI thread
        (:meth:`_search_answered`), so two quick searches never list the first's matches
        over the second's."""
        worker = get_current_worker()
        try:
            pupils = self.kiosk.custody.find_pupils(who, text)
        except Exception as exc:
            if not isinstance(exc, STAFF_ERRORS):
                log.exception("pupil search failed")
            self.app.call_from_thread(self._search_answered, worker, self.show_problem, exc)
            return
        self.app.call_from_thread(
            self._search_answered, worker, lambda p: self._pupils_found(search, p), pupils
        )

    def _search_answered(
        self, worker: Worker[None], callback: Callable[[Any], None], value: Any
    ) -> None:
        # On the UI thread, where the next search's start cancels this worker: checked here,
        # an answer overtaken by a newer search cannot slip in after it.
        if not worker.is_cancelled:
            self._deliver(callback, value)

    def _pupils_found(self, search: PupilSearch, pupils: list[PupilView]) -> None:
        search.show(pupils)
        if not pupils:
            self._error("No pupil matches. Try the surname or the tutor group.")

    def _step(
        self, step: str, focus: str, *, keep_error: bool = False, scroll_visible: bool = True
    ) -> None:
        """Show ``step`` with ``focus`` focused before it is painted.

        ``Screen.set_focus``, not ``Widget.focus`` (which moves focus on a later turn of the
        loop): once a step's prompt is on the screen, the next key reaches that step's field,
        so a fast typist, a keyboard-wedge reader or a terminal test may type as soon as
        they see the prompt. ``scroll_visible=False`` for a step that must be read from its
        top (the release decision): Textual's scroll-to-focus runs on a later turn against
        whatever layout is ready by then, so it scrolled the decision's headline away in
        some runs and not in others (a snapshot test failed 1 run in 9).
        """
        self.query_one(ContentSwitcher).current = step
        self.set_focus(self.query_one(focus), scroll_visible=scroll_visible)
        if not keep_error:
            self.query_one("#form-error", Static).update("")

    def _error(self, text: str) -> None:
        self.query_one("#form-error", Static).update(text)

    def _offer_door_choices(self, message: str, *, cancel: str, cancel_id: str) -> None:
        """The door did not close in time: keep waiting, or ``cancel`` (the screen's words
        for what undoing means here)."""
        self.query_one("#door-text", Static).update(message)
        options = self.query_one("#door-options", OptionList)
        options.clear_options()
        options.add_options(
            [
                option("Keep waiting: I am closing the door now", id="wait"),
                option(cancel, id=cancel_id),
            ]
        )
        options.display = True
        options.highlighted = 0
        self.set_focus(options)


def problem_text(exc: Exception) -> str:
    """The words to show for a refusal or an error."""
    if isinstance(exc, PolicyRefused):
        return "\n".join(f"{r.text} [{r.clause}]" for r in exc.decision.reasons)
    if isinstance(exc, STAFF_ERRORS):
        return str(exc)
    return f"Something went wrong: {exc}. Nothing more was changed; tell the technician."
