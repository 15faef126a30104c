"""Exam deposits: the exams officer's register, and the pupils' self-service deposit mode.

Self-service runs with nobody signed in (the officer opens it and walks away), so it cannot
reach anything but the deposit use-case: ``exam_deposit_by_card(None, ...)`` and a door. A
pupil's common case is two inputs: tap the card, close the cabinet door. A staff badge tapped here
asks for a PIN and leaves self-service.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, OptionList, Static

from kiosk.auth import Identity
from kiosk.permissions import Permission
from kiosk.service import DoorOutcome
from kiosk.station import DoorResult
from kiosk.task import Task, TaskKind
from kiosk.views import ExamSessionState, ExamSessionView, PupilView
from tui.screens.base import KioskScreen, problem_text
from tui.widgets.text import Plain, option, plain, safe


def _local(app: Any, when: Any) -> str:
    return f"{when.astimezone(app.config.tz):%H:%M}"


class ExamScreen(KioskScreen):
    """Sessions and the live register of the chosen one."""

    HEADING = "Exam deposits"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("d", "self_service", "Self-service"),
        Binding("c", "create", "New"),
        Binding("e", "edit", "Edit"),
        Binding("x", "cancel_session", "Cancel session"),
        Binding("n", "end_session", "End"),
        Binding("b", "bulk_release", "Release all"),
    ]

    def __init__(self, session_id: int | None = None) -> None:
        super().__init__()
        self.sessions: list[ExamSessionView] = []
        self.session: ExamSessionView | None = None
        self._keep = session_id  # the session to show first (back from self-service)
        self.job: Task | None = None  # the cabinet hand-back in progress

    def compose_body(self) -> ComposeResult:
        with Vertical(id="exam-body"):
            yield OptionList(id="sessions")
            yield Plain("", id="exam-status")
            yield DataTable(id="register", cursor_type="row", zebra_stripes=False)

    def on_mount(self) -> None:
        table = self.query_one("#register", DataTable)
        table.add_columns("Candidate", "Group", "Deposit")
        self.query_one("#sessions", OptionList).focus()
        self._load()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.is_mounted and self.kiosk.identity is not None:
            self._load()  # back from the session form: the list may have changed

    def _load(self) -> None:
        self.call(self.kiosk.custody.exam_sessions, self._sessions_loaded)

    def _sessions_loaded(self, sessions: list[ExamSessionView]) -> None:
        self.sessions = [
            s
            for s in sessions
            if s.state not in (ExamSessionState.RELEASED, ExamSessionState.CANCELLED)
        ] or sessions
        menu = self.query_one("#sessions", OptionList)
        menu.clear_options()
        for s in self.sessions:
            menu.add_option(
                option(
                    f"{s.starts_at.astimezone(self.kiosk.config.tz):%d/%m} "
                    f"{_local(self.kiosk, s.starts_at)}-{_local(self.kiosk, s.ends_at)} "
                    f"{s.name} | {s.room} | {s.cabinet} ({s.state})",
                    id=str(s.id),
                )
            )
        if self.sessions:
            keep = self.session.id if self.session else self._keep or self.sessions[0].id
            index = next((i for i, s in enumerate(self.sessions) if s.id == keep), 0)
            menu.highlighted = index
            self._choose(self.sessions[index])
        else:
            self.query_one("#exam-status", Static).update("No exam sessions.")

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "sessions" and 0 <= event.option_index < len(self.sessions):
            self._choose(self.sessions[event.option_index])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_self_service()

    def _choose(self, session: ExamSessionView) -> None:
        self.session = session
        if self.kiosk.identity is None:
            return  # a lock came in while the sessions were loading: the screen is going
        who, sid = self.actor, session.id
        self.call(lambda: self.kiosk.custody.exam_register(who, sid), self._register)

    def _register(self, rows: list[tuple[Any, Any]]) -> None:
        fill_register(self.query_one("#register", DataTable), rows)
        done = sum(1 for _, h in rows if h is not None)
        state = self.session.state if self.session else ""
        keys = "Enter/d: self-service  c: new  e: edit  x: cancel  n: end"
        if state == ExamSessionState.ENDED:
            keys = "b: release all pouches to candidates  c: new session"
        elif state in (ExamSessionState.CANCELLED, ExamSessionState.RELEASED):
            keys = f"({state})  c: new session"
        self.query_one("#exam-status", Static).update(f"{done} of {len(rows)} deposited. {keys}")

    def action_self_service(self) -> None:
        """Hand the kiosk to the candidates.

        Where the profile wants phones off, not silent, the officer first confirms, once for
        the session, that the phones go in switched off: recorded with every deposit of
        this self-service (``switched_off_confirmed_by``), and still one tap per candidate
        (issue 14). Where it does not, no question is asked.
        """
        if self.session is None:
            return
        if self.session.state != ExamSessionState.OPEN:
            self.notify("This session has ended: no more deposits.", severity="warning")
            return
        opener = self.actor
        session = self.session
        rule = self.kiosk.profile.phones.switched_off_not_silent
        if not rule.value:
            self._start_self_service(session, opener, None)
            return
        from tui.screens.staff import Confirm

        def answered(yes: bool | None) -> None:
            if yes and self.kiosk.identity is opener:
                self._start_self_service(session, opener, opener.staff_id)

        self.app.push_screen(
            Confirm(
                "Phones go into the pouches switched off (off, not silent): the candidates "
                "switch them off in front of you. You confirm it for this session; it is "
                f"recorded with your name on each deposit. [{rule.source}]",
                "Yes: phones are switched off - start self-service",
            ),
            answered,
        )

    def _start_self_service(
        self, session: ExamSessionView, opener: Identity, switched_off_by: int | None
    ) -> None:
        self.kiosk.lock_for_self_service(opener)
        self.app.push_screen(ExamDepositScreen(session, opener, switched_off_by))

    # ------------------------------------------------------------------ create, edit, cancel
    def action_create(self) -> None:
        if self.actor.can(Permission.EXAM_SESSION):
            from tui.screens.exam_admin import ExamSessionForm

            self.app.push_screen(ExamSessionForm())

    def action_edit(self) -> None:
        if self.session is None or not self.actor.can(Permission.EXAM_SESSION):
            return
        if self.session.state != ExamSessionState.OPEN:
            self.notify(f"This session is {self.session.state}: it can no longer be edited.")
            return
        from tui.screens.exam_admin import ExamSessionForm

        self.app.push_screen(ExamSessionForm(self.session))

    def action_cancel_session(self) -> None:
        if self.session is None or not self.actor.can(Permission.EXAM_SESSION):
            return
        from tui.widgets.prompt import TextPrompt

        who, sid = self.actor, self.session.id

        def answered(why: str | None) -> None:
            if why:
                self.call(
                    lambda: self.kiosk.custody.cancel_exam_session(who, sid, why),
                    lambda _r: self._cancelled(),
                )

        self.app.push_screen(
            TextPrompt(
                f"Cancel {safe(self.session.name)}? Say why (recorded with your name).",
                placeholder="e.g. paper moved to Thursday",
            ),
            answered,
        )

    def _cancelled(self) -> None:
        self.notify("Session cancelled: no deposits are taken for it.")
        self._load()

    def action_end_session(self) -> None:
        if self.session is None or not self.actor.can(Permission.EXAM_SESSION):
            return
        who, sid = self.actor, self.session.id
        self.call(lambda: self.kiosk.custody.end_exam_session(who, sid), lambda _r: self._load())

    def action_bulk_release(self) -> None:
        """Open the cabinet once as a door step of the app (the lock knows it is open).

        Pressing ``b`` again after a door that was not closed in time opens it again: the
        station picks up the pouches already ``releasing``.
        """
        if self.session is None or not self.actor.can(Permission.EXAM_SESSION):
            return
        if self.job is not None and self.job.door_running:
            self.notify("The cabinet is open: hand out the pouches and close its door.")
            return
        self.kiosk.end_task(self.job)
        job = self.job = self.kiosk.begin_task(TaskKind.EXAM_RELEASE)
        job.session_id = self.session.id
        if self.kiosk.run_door(job, self.actor, self._released):
            # On the status line too: a toast goes after a few seconds, the door stays open.
            opening = "Opening the cabinet: hand out the pouches, then close its door."
            self.query_one("#exam-status", Static).update(opening)
            self.notify(opening)

    def _released(self, out: DoorOutcome) -> None:
        result, error = out.result, out.error
        job = self.job
        if job is not None and not job.door_opened:
            self.kiosk.end_task(job)  # settled: confirmed, or the station put every pouch back
            self.job = None
        if error is not None or result is None:
            self.show_problem(error or RuntimeError("no result"))
        elif result.outcome == "not_closed":
            self.notify(
                f"{result.message} Press b to open it again; the pouches are recorded as "
                "back when its door closes.",
                severity="warning",
                timeout=10,
            )
        else:
            self.notify(result.message, severity="information" if result.ok else "error")
        self._load()

    def action_back(self) -> None:
        if self.job is not None and self.job.door_running:
            self.notify("The cabinet is open: close its door first.", severity="warning")
            return
        self.app.pop_screen()

    def on_unmount(self) -> None:
        # Left with a hand-back unfinished (door not closed): the pouches stay "releasing"
        # and are listed on Holdings for staff to settle; nothing is rolled back.
        if self.job is not None and not self.job.door_running:
            self.kiosk.end_task(self.job)


def fill_register(table: DataTable[Any], rows: list[tuple[Any, Any]]) -> None:
    table.clear()
    for pupil, holding in rows:
        if holding is None:
            deposit = "NOT YET"
        else:
            deposit = f"pouch {holding.pouch_number} ({holding.state.replace('_', ' ')})"
        table.add_row(plain(pupil.name), plain(pupil.tutor_group), plain(deposit))


class ExamDepositScreen(KioskScreen):
    """Self-service: pupil taps card, cabinet opens, pouch number shown, next pupil."""

    HEADING = "Exam deposit (self-service)"

    #: Seconds the "Thank you, NAME: candidate N, pouch P" line stays up. The next candidate
    #: walks up to the same screen: it must not show them who went before (issue 9,
    #: "self-service screens show only what the candidate at the hatch needs").
    CLEAR_AFTER = 8.0

    def __init__(
        self, session: ExamSessionView, opener: Identity, switched_off_by: int | None = None
    ) -> None:
        super().__init__()
        self.session = session
        self.opener = opener  # who opened self-service; deposits are made with no actor
        #: The staff id of whoever confirmed the phones go in switched off (the opener,
        #: once for the session), or None where the profile does not ask for it.
        self.switched_off_by = switched_off_by
        self.job: Task | None = None
        #: Bumped by every message, so a timer clears only the message it was set for.
        self._said = 0

    def compose_body(self) -> ComposeResult:
        with Vertical(id="exam-body"):
            yield Plain(
                f"{self.session.name} - {self.session.room}\n"
                "CANDIDATES: tap your card to deposit your phone.",
                id="exam-prompt",
            )
            # Only the candidate at the hatch's own pouch is shown here, after their tap: no
            # register, no other names (issue 9, "self-service screens show only what the
            # candidate at the hatch needs"). The register stays on the staff ExamScreen.
            yield Plain("", id="exam-result")
            yield Plain("Staff: tap your badge to leave self-service.", id="exam-help")

    def title_line(self) -> str:
        return f"{self.kiosk.config.station.name}  |  {self.HEADING}"

    def _say(self, text: str, ok: bool = True) -> None:
        self._said += 1
        result = self.query_one("#exam-result", Static)
        result.update(text)
        result.set_class(not ok, "refused")

    def _say_briefly(self, text: str) -> None:
        """A message naming the candidate: cleared after :attr:`CLEAR_AFTER` seconds unless
        another message replaced it first."""
        self._say(text)
        said = self._said

        def clear() -> None:
            if self._said == said and self.is_attached:
                self._say("")

        self.set_timer(self.CLEAR_AFTER, clear)

    def card_tapped(self, uid: str) -> bool:
        """Every tap is ours: a pupil card deposits, any other card is sent to sign-in."""
        if self.job is not None:
            self._say("Wait: close the cabinet door for the pupil before you.", ok=False)
            return True
        custody, sid, off_by = self.kiosk.custody, self.session.id, self.switched_off_by
        self.job = Task(TaskKind.EXAM_DEPOSIT)

        def deposit() -> tuple[Any, Any, str | None]:
            # One use-case (card, deposit, candidate number in one transaction), not three:
            # the exam rush's CPU per candidate (issue 15).
            done = custody.exam_deposit_by_card(
                None, session_id=sid, card_uid=uid, switched_off_confirmed_by=off_by
            )
            if done is None:
                return None, None, None
            return done.pupil, done.holding, done.candidate_number

        self.call(deposit, lambda r: self._deposit(uid, *r), self._refused)
        return True

    def after_sign_in(self, identity: Identity) -> KioskScreen | None:
        """Staff leaving self-service: the exams officer goes back to this session's exam
        screen (issue 14); anyone else goes home."""
        if identity.can(Permission.EXAM_SESSION):
            return ExamScreen(self.session.id)
        return None

    def _refused(self, exc: Exception) -> None:
        self.job = None
        self._say(problem_text(exc) + "\nAsk the exams officer.", ok=False)

    def _deposit(self, uid: str, pupil: Any, holding: Any, candidate: str | None) -> None:
        if pupil is None:
            self.job = None
            self.kiosk.begin_login(uid)  # not a pupil card: a member of staff signing in
            return
        assert self.job is not None
        self.job.holding = holding
        # The candidate's own number (from the MIS exam import) and pouch, nobody else's.
        number = f"candidate {candidate}, " if candidate else ""
        heading = f"Candidate {candidate}, " if candidate else ""
        self._say(
            f"{pupil.name}: {heading}POUCH {holding.pouch_number}\n"
            f"Cabinet {holding.locker} is opening. Put your phone"
            f"{', switched off,' if self.switched_off_by is not None else ''} in pouch "
            f"{holding.pouch_number} and close the door."
        )
        self.kiosk.run_door(self.job, None, lambda out: self._door_done(pupil, out, number))

    def _door_done(self, pupil: PupilView, out: DoorOutcome, number: str = "") -> None:
        result, error = out.result, out.error
        self.job = None
        if error is not None or result is None:
            self._say(problem_text(error or RuntimeError("no result")), ok=False)
        elif result.ok and isinstance(result, DoorResult):
            self._say_briefly(
                f"Thank you, {pupil.name}: {number}pouch {result.holding.pouch_number} is "
                f"locked in {result.holding.locker}.\nNext candidate: tap your card."
            )
        elif result.outcome == "not_closed":
            # The pouch may well be inside: never undo it by guessing. It stays "depositing"
            # on the register for the exams officer to settle (Holdings screen, k / x).
            self._say(
                "The cabinet door was not closed. Close it now and ask the exams officer to "
                "check your pouch.",
                ok=False,
            )
        else:
            self._say(result.message + "\nAsk the exams officer.", ok=False)
