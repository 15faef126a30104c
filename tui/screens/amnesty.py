"""Voluntary hand-in (amnesty / safekeeping): a pupil gives their phone in of their own
accord (PE, a medical exemption, "keep it safe for me").

It is the deposit flow (commit ``depositing``, the locker opens, the door sensor confirms)
through the ``safekeeping`` use-case, which records no sanction and no incident (DESIGN.md,
Words: safekeeping); the pupil collects it as the profile's ``release.safekeeping_*`` rules
allow, on the Release screen. The screen decides no rule: the reason is a word recorded with
the holding, and the receipt is the renderer's (:mod:`tui.screens.receipt`).

Common case, counted from the home screen (issue 14 target: amnesty 4 or fewer):
1. ``v``; 2. tap the pupil's card; 3. Enter on the reason ("switched off - into A5": confirms
the phone is off, where the profile asks for it, and takes the first free locker);
4. close the locker door. The receipt follows; ``p`` prints it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import ContentSwitcher, Input, OptionList, Static

from kiosk.service import DoorOutcome
from kiosk.station import DoorResult
from kiosk.task import Task, TaskKind
from kiosk.views import HoldingView, LockerState, LockerView, PupilView
from tui.screens.base import StepForm, problem_text
from tui.screens.receipt import ReceiptScreen
from tui.widgets.pupil_search import PupilSearch
from tui.widgets.text import Plain, option

#: Why a pupil hands a phone in (recorded with the holding as its reason; no rule reads it).
REASONS: tuple[tuple[str, str], ...] = (
    ("pe", "PE or games lesson"),
    ("medical", "Medical exemption: kept safe at the office"),
    ("keep_safe", "Asked the office to keep it safe"),
    ("other", "Another reason (type it)"),
)


class AmnestyScreen(StepForm):
    HEADING = "Voluntary hand-in"
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, pupil: PupilView | None = None) -> None:
        super().__init__()
        self.pupil = pupil
        self.locker: LockerView | None = None
        self.job: Task | None = None
        self.holding: HoldingView | None = None
        self._busy = False

    # ------------------------------------------------------------------ layout
    def compose_body(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Plain("", id="who")
            with ContentSwitcher(initial="step-pupil", id="steps"):
                yield PupilSearch(id="step-pupil")
                with Vertical(id="step-reason"):
                    yield Plain("", id="reason-text")
                    yield Input(placeholder="phone (optional: make, colour, case)", id="device")
                    yield OptionList(id="reasons")
                with Vertical(id="step-door"):
                    yield Plain("", id="door-text")
                    yield OptionList(id="door-options")
            yield Plain("", id="form-error")
            yield Plain("No sanction and no incident: the pupil collects it.", id="form-hint")

    def on_mount(self) -> None:
        self.job = self.kiosk.begin_task(TaskKind.SAFEKEEPING)
        if self.pupil is not None:
            self._pupil_chosen(self.pupil)
        else:
            self._step("step-pupil", "#search")

    # ------------------------------------------------------------------ pupil
    def pupil_tapped(self, pupil: PupilView) -> None:
        if self.query_one(ContentSwitcher).current in ("step-pupil", "step-reason"):
            self._pupil_chosen(pupil)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "device":
            self.query_one("#reasons", OptionList).focus()

    def on_pupil_search_pupil_chosen(self, event: PupilSearch.PupilChosen) -> None:
        event.stop()
        self._pupil_chosen(event.pupil)

    def _pupil_chosen(self, pupil: PupilView) -> None:
        self.pupil = pupil
        adjustments = (
            f"  Recorded adjustment: {', '.join(pupil.exemptions)}" if pupil.exemptions else ""
        )
        self.query_one("#who", Static).update(
            f"Pupil: {pupil.name}  {pupil.tutor_group}  (year {pupil.year_group}){adjustments}"
        )
        self.call(self.kiosk.custody.lockers, self._show_reasons)

    def _show_reasons(self, lockers: list[LockerView]) -> None:
        free = [lk for lk in lockers if lk.state is LockerState.FREE and lk.capacity == 1]
        if not free:
            self._error("No free locker. Release a phone or ask the technician.")
            return
        self.locker = free[0]
        off = self.kiosk.profile.phones.switched_off_not_silent.value
        check = "Check the phone is switched OFF - not just silent.\n" if off else ""
        self.query_one("#reason-text", Static).update(
            f"{check}Why is it handed in? Enter "
            + ("confirms it is off and " if off else "")
            + f"opens locker {self.locker.label}:"
        )
        verb = "switched off, into" if off else "into"
        menu = self.query_one("#reasons", OptionList)
        menu.clear_options()
        menu.add_options(
            [option(f"{label} - {verb} {self.locker.label}", id=code) for code, label in REASONS]
        )
        menu.highlighted = 0
        self._step("step-reason", "#reasons", keep_error=True)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        menu = event.option_list.id
        if menu == "reasons":
            self._reason(event.option.id or "")
        elif menu == "door-options":
            self._door_option(event.option.id or "")

    def _reason(self, code: str) -> None:
        if code == "other":
            from tui.widgets.prompt import TextPrompt

            def answered(text: str | None) -> None:
                if text:
                    self._commit(text)

            self.app.push_screen(
                TextPrompt("Why is the phone handed in?", placeholder="e.g. school trip"),
                answered,
            )
            return
        self._commit(dict(REASONS)[code])

    # ------------------------------------------------------------------ commit + door
    def _commit(self, reason: str) -> None:
        if self._busy or self.pupil is None or self.locker is None or self.job is None:
            return
        self._busy = True
        who, pupil, locker_id, job = self.actor, self.pupil, self.locker.id, self.job
        off = self.kiosk.profile.phones.switched_off_not_silent.value
        device = self.query_one("#device", Input).value.strip()
        custody = self.kiosk.custody
        # The worker records the holding on the task before returning, so a lock landing
        # while it saves rolls it back (its door never opened), as for a confiscation.
        self.call(
            lambda: self.kiosk.service.commit(
                job,
                lambda: custody.safekeeping(
                    who,
                    pupil_id=pupil.id,
                    device_description=device,
                    reason=reason,
                    locker_id=locker_id,
                    # Enter on a reason is the confirmation the screen asked for ("Enter
                    # confirms it is off"); the use-case refuses without it where required.
                    switched_off_confirmed=off,
                ),
                lambda h: h,
            ),
            self._committed,
            self._refused,
        )

    def _refused(self, exc: Exception) -> None:
        self._busy = False
        self._error(problem_text(exc))
        if self.pupil is not None:
            self.call(self.kiosk.custody.lockers, self._show_reasons)

    def _committed(self, holding: HoldingView) -> None:
        self._busy = False
        if not self.kiosk.service.is_current(self.job):
            return  # a lock took the task over: the service rolled it back
        self.holding = holding
        self._open_door()

    def _open_door(self) -> None:
        assert self.job is not None and self.holding is not None
        self.query_one("#door-text", Static).update(
            f"Locker {self.holding.locker} is opening.\n\n"
            "Put the phone in and CLOSE THE DOOR.\n"
            "The hand-in is confirmed when the door closes."
        )
        options = self.query_one("#door-options", OptionList)
        options.clear_options()
        options.display = False
        self._step("step-door", "#door-options")
        if not self.kiosk.run_door(self.job, self.actor, self._door_done):
            self._error("The kiosk was locked: nothing was opened.")

    def _door_done(self, out: DoorOutcome) -> None:
        result, error = out.result, out.error
        if not self.is_attached:
            return
        if error is not None or not isinstance(result, DoorResult):
            self._error(problem_text(error or RuntimeError("no result")))
            self._door_choices("The door step failed.")
            return
        if result.ok:
            self.kiosk.end_task(self.job)
            self.job = None
            self.app.switch_screen(
                ReceiptScreen(
                    result.holding.id,
                    note=f"{result.message} Give the pupil the receipt (p prints it).",
                )
            )
            return
        if result.outcome == "not_closed":
            self._door_choices(result.message)
            return
        # did_not_open / jammed: the station rolled it back and marked the locker a fault.
        self.kiosk.end_task(self.job)
        self.job = self.kiosk.begin_task(TaskKind.SAFEKEEPING)
        self._error(result.message)
        self.call(self.kiosk.custody.lockers, self._show_reasons)

    def _door_choices(self, message: str) -> None:
        self._offer_door_choices(
            message, cancel="Cancel: the phone is NOT in the locker", cancel_id="abort"
        )

    def _door_option(self, choice: str) -> None:
        if choice == "wait":
            self._open_door()
            return
        assert self.holding is not None
        who, holding_id = self.actor, self.holding.id
        self.call(
            lambda: self.kiosk.custody.abort_deposit(who, holding_id, "cancelled at the hatch"),
            lambda _h: self._aborted(),
        )

    def _aborted(self) -> None:
        self.kiosk.end_task(self.job)
        self.job = None
        self.notify("Cancelled: nothing is recorded as handed in.")
        self.app.pop_screen()

    def action_back(self) -> None:
        current = self.query_one(ContentSwitcher).current
        if current == "step-door":
            if self.job is not None and self.job.door_running:
                self.notify("Close the locker door first.", severity="warning")
            return  # answer the door question: keep waiting or cancel
        if current == "step-reason":
            self._step("step-pupil", "#search")
            return
        self.kiosk.end_task(self.job)
        self.job = None
        self.app.pop_screen()

    def on_unmount(self) -> None:
        if self.job is not None and not self.job.committed:
            self.kiosk.end_task(self.job)
