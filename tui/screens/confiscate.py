"""Confiscate: pupil -> category -> device -> "switched off" + locker -> door -> slip.

Common case, counted from the home screen (DESIGN target: 5 inputs or fewer):
1. tap the pupil's card (starts this screen with the pupil chosen);
2. Enter: the category (the first, "Unauthorised phone use", is highlighted);
3. type the device description, Enter;
4. Enter: "switched off - put it in A5" (confirms it is off *and* takes the first free locker);
5. close the locker door (the sensor confirms; no key).
Then the slip is on screen for the pupil. Nothing is written until step 4, so backing out or
a lock before then leaves no trace but the audit of the sign-in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events

from kiosk.views import Category, Decision, HoldingView, LockerView, PupilView

if TYPE_CHECKING:
    pass


from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Input, OptionList, Static

from kiosk.service import DoorOutcome
from kiosk.station import DoorResult
from kiosk.task import Task, TaskKind
from kiosk.views import LockerState
from tui.screens.base import StepForm, problem_text
from tui.screens.receipt import ReceiptPanel, print_receipt
from tui.widgets.decision_panel import DecisionPanel
from tui.widgets.pupil_search import PupilSearch
from tui.widgets.text import Plain, option


class ConfiscateScreen(StepForm):
    HEADING = "Confiscate"
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, pupil: PupilView | None = None) -> None:
        super().__init__()
        self.pupil = pupil
        self.category: Category | None = None
        self.device = ""
        self.job: Task | None = None
        self.decision: Decision | None = None
        self.holding: HoldingView | None = None
        self._busy = False

    # ------------------------------------------------------------------ layout
    def compose_body(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Plain("", id="who")
            with ContentSwitcher(initial="step-pupil", id="steps"):
                yield PupilSearch(id="step-pupil")
                with Vertical(id="step-category"):
                    yield Plain("What happened? (Enter picks)")
                    yield OptionList(
                        *[
                            option(f"{c.label} - {c.description}", id=c.code)
                            for c in self.kiosk.profile.categories
                        ],
                        id="categories",
                    )
                with Vertical(id="step-device"):
                    yield Plain("Describe the device (make, colour, case), then Enter")
                    yield Input(placeholder="e.g. black iPhone, cracked case", id="device")
                with Vertical(id="step-confirm"):
                    yield Plain("", id="confirm-text")
                    yield OptionList(id="lockers")
                with Vertical(id="step-door"):
                    yield Plain("", id="door-text")
                    yield OptionList(id="door-options")
                with VerticalScroll(id="step-slip"):
                    yield ReceiptPanel("", id="slip")
                    yield DecisionPanel(id="slip-decision")
            yield Plain("", id="form-error")
            yield Plain("", id="form-hint")

    def on_mount(self) -> None:
        self.job = self.kiosk.begin_task(TaskKind.DEPOSIT)
        if self.pupil is not None:
            self._pupil_chosen(self.pupil)
        else:
            self._step("step-pupil", "#search")

    # ------------------------------------------------------------------ pupil
    def pupil_tapped(self, pupil: PupilView) -> None:
        if self.query_one(ContentSwitcher).current in ("step-pupil", "step-category"):
            self._pupil_chosen(pupil)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "device":
            if not event.value.strip():
                self._error("Describe the device so it can be handed back to the right person.")
                return
            self.device = event.value.strip()
            self._confirm_step()

    def on_pupil_search_pupil_chosen(self, event: PupilSearch.PupilChosen) -> None:
        event.stop()
        self._pupil_chosen(event.pupil)

    def _pupil_chosen(self, pupil: PupilView) -> None:
        self.pupil = pupil
        self.query_one("#who", Static).update(
            f"Pupil: {pupil.name}  {pupil.tutor_group}  (year {pupil.year_group})"
        )
        menu = self.query_one("#categories", OptionList)
        menu.highlighted = 0
        self._step("step-category", "#categories")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        menu = event.option_list.id
        if menu == "categories":
            self.category = self.kiosk.profile.category(event.option.id or "")
            self._step("step-device", "#device")
        elif menu == "lockers":
            self._commit(int(event.option.id or 0))
        elif menu == "door-options":
            self._door_option(event.option.id or "")
        elif menu == "slip-done":
            self._finish()

    # ------------------------------------------------------------------ confirm + locker
    def _hold_only(self) -> bool:
        return bool(self.category is not None and self.category.forces_safeguarding_hold)

    def _confirm_step(self, *, keep_error: bool = False) -> None:
        self.call(self.kiosk.custody.lockers, lambda ls: self._show_lockers(ls, keep_error))

    def _show_lockers(self, lockers: list[LockerView], keep_error: bool = False) -> None:
        free = [lk for lk in lockers if lk.state is LockerState.FREE and lk.capacity == 1]
        text = self.query_one("#confirm-text", Static)
        if self._hold_only():
            text.update(
                "Do NOT switch it on or off, look at it or copy it: it is evidence.\n"
                "Choose a locker (Enter = first free):"
            )
            verb = "Evidence, untouched"
        else:
            text.update(
                "Check the phone is switched OFF - not just silent.\n"
                "Enter confirms it is off and opens the locker (first free is highlighted):"
            )
            verb = "Switched off"
        menu = self.query_one("#lockers", OptionList)
        menu.clear_options()
        menu.add_options([option(f"{verb} - put it in {lk.label}", id=str(lk.id)) for lk in free])
        if not free:
            self._error("No free locker. Release a phone or ask the technician.")
            return
        menu.highlighted = 0
        self._step("step-confirm", "#lockers", keep_error=keep_error)

    def _commit(self, locker_id: int) -> None:
        if self._busy or self.pupil is None or self.category is None:
            return
        self._busy = True
        who, pupil, category, device = self.actor, self.pupil, self.category, self.device
        off = not self._hold_only()
        job, custody = self.job, self.kiosk.custody
        assert job is not None
        # The worker records the holding on the task before returning (a lock may land
        # while it is saving: the app then rolls it back, its door never opened).
        self.call(
            lambda: self.kiosk.service.commit(
                job,
                lambda: custody.confiscate(
                    who,
                    pupil_id=pupil.id,
                    category=category.code,
                    device_description=device,
                    switched_off_confirmed=off,
                    locker_id=locker_id,
                ),
                lambda result: result[0],
            ),
            self._committed,
            self._refused,
        )

    def _refused(self, exc: Exception) -> None:
        self._busy = False
        self._error(problem_text(exc))
        self._confirm_step(keep_error=True)

    def _committed(self, result: tuple[HoldingView, Decision]) -> None:
        self._busy = False
        holding, decision = result
        if not self.kiosk.service.is_current(self.job):
            return  # a lock took the task over: the service rolled it back
        self.holding, self.decision = holding, decision
        self._open_door()

    # ------------------------------------------------------------------ door
    def _open_door(self) -> None:
        assert self.job is not None and self.holding is not None
        self.query_one("#door-text", Static).update(
            f"Locker {self.holding.locker} is opening.\n\n"
            "Put the phone in and CLOSE THE DOOR.\n"
            "The confiscation is confirmed when the door closes."
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
            self.holding = result.holding
            self.kiosk.end_task(self.job)
            self._slip()
            return
        if result.outcome == "not_closed":
            self._door_choices(result.message)
            return
        # did_not_open / jammed: the station rolled the deposit back and marked a fault.
        self.kiosk.end_task(self.job)
        self.job = self.kiosk.begin_task(TaskKind.DEPOSIT)
        self._error(result.message)
        self._confirm_step(keep_error=True)

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
        self.notify("Cancelled: nothing is recorded as deposited.")
        self.app.pop_screen()

    # ------------------------------------------------------------------ slip
    def _slip(self) -> None:
        h, pupil = self.holding, self.pupil
        assert h is not None and pupil is not None
        # The receipt is the renderer's (kiosk.receipts): who may collect and when come from
        # the use-case and the profile, and a safeguarded slip names neither (issue 14).
        who, holding_id = self.actor, h.id
        self.call(
            lambda: self.kiosk.custody.receipt_slip(who, holding_id),
            self.query_one("#slip", ReceiptPanel).show,
        )
        self.query_one("#slip-decision", DecisionPanel).show(
            self.decision, "For staff (recorded under the school's policy):", sources=False
        )
        self.query_one("#steps", ContentSwitcher).current = "step-slip"
        self.query_one("#step-slip", VerticalScroll).focus()
        self.query_one("#form-error", Static).update("")
        self.query_one("#form-hint", Static).update(
            "Show the receipt to the pupil. p: print it  Enter: done"
        )
        self._done = True

    def _finish(self) -> None:
        self.app.pop_screen()

    def on_key(self, event: events.Key) -> None:
        if getattr(self, "_done", False) and event.key == "enter":
            event.stop()
            self._finish()
        elif getattr(self, "_done", False) and event.key == "p" and self.holding is not None:
            event.stop()
            print_receipt(self, self.holding.id)

    def action_back(self) -> None:
        current = self.query_one(ContentSwitcher).current
        if current == "step-door" and self.job is not None and self.job.door_running:
            self.notify("Close the locker door first.", severity="warning")
            return
        if current == "step-door":
            return  # answer the door question: keep waiting or cancel
        back = {
            "step-category": ("step-pupil", "#search"),
            "step-device": ("step-category", "#categories"),
            "step-confirm": ("step-device", "#device"),
        }
        if current in back:
            self._step(*back[current])
            return
        if current != "step-slip":
            self.kiosk.end_task(self.job)
        self.app.pop_screen()

    def on_unmount(self) -> None:
        if self.job is not None and not self.job.committed and self.kiosk.job is self.job:
            self.kiosk.end_task(self.job)
