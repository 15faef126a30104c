"""Release: holding -> collector -> ID seen -> decision (with reasons) -> door -> done.

Nobody can hand a phone to the wrong person by mistake: the collector is picked from the
pupil's own contact list, the policy decision (every reason, clause and citation) is on
screen before any door opens, and a refusal opens nothing. Only a person with the override
permission sees the override, and it needs a written reason.

Common case from the home screen: r (1), tap the pupil's card or type a name + Enter (2),
Enter on the collector (3), Enter on the ID type (4), Enter "open locker" after reading the
decision (5), close the door (6).

The ID type is asked only once the policy has allowed the collector (issue 14): a contact who
may not collect, or a release that is too early, is refused before anyone is asked for ID.
An adult who is refused (not on the list, or barred) is recorded with ``x`` or the refusal's
first option (:mod:`tui.screens.hatch`); a barred adult alerts the DSL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events

from kiosk.views import CardTap, Decision, HoldingView, PupilView

if TYPE_CHECKING:
    from tui.app import KioskApp

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import ContentSwitcher, Input, OptionList, Static

from kiosk.custody import Collector, PolicyRefused
from kiosk.permissions import Permission
from kiosk.service import DoorOutcome
from kiosk.station import DoorResult
from kiosk.task import Task, TaskKind
from kiosk.usecases.hatch import CollectorCheck, Refusal
from kiosk.views import HoldingKind, HoldingState
from tui.screens.base import StepForm, problem_text
from tui.screens.hatch import RefusedAdult, RefusedAdultForm, refusal_text
from tui.screens.styles import STAFF_TCSS
from tui.widgets.decision_panel import DecisionPanel
from tui.widgets.prompt import TextPrompt
from tui.widgets.text import Plain, option

#: ID types offered when the profile accepts any photo ID (``release.accepted_id_types = []``).
DEFAULT_ID_TYPES = ("driving_licence", "passport", "national_id_card", "other_photo_id")

RELEASABLE = (HoldingState.HELD, HoldingState.SAFEGUARDING_HOLD)


def id_label(code: str) -> str:
    return code.replace("_", " ").capitalize()


class ReleaseScreen(StepForm):
    CSS_PATH = STAFF_TCSS
    HEADING = "Release"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("o", "override", "Override (senior)", show=False),
        Binding("x", "refuse", "Refuse + record adult", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.holdings: list[HoldingView] = []
        self.shown: list[HoldingView] = []
        self.holding: HoldingView | None = None
        self.pupil: PupilView | None = None
        #: The pupil (with contacts) whose card was tapped on this screen, if any.
        self.tapped: PupilView | None = None
        self.collector: Collector | None = None
        self.collector_name = ""
        self.id_type: str | None = None
        self.decision: Decision | None = None
        self.job: Task | None = None
        self._busy = False
        #: The profile wants the collector's ID type recorded (from ``check_collector``).
        self._id_required = False
        self._refusal_recordable = False  # from the use-case, per collector checked
        #: A senior's written override waiting for the ID type before the door opens.
        self._override_reason: str | None = None
        #: The door step is on screen; until then a door outcome waits in ``_early_door``.
        self._door_shown = False
        self._early_door: DoorOutcome | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Plain("", id="who")
            with ContentSwitcher(initial="step-find", id="steps"):
                with Vertical(id="step-find"):
                    yield Plain("Tap the pupil's card, or type to filter and pick (Enter)")
                    yield Input(placeholder="name, tutor group or locker", id="filter")
                    yield OptionList(id="held")
                with Vertical(id="step-collector"):
                    yield Plain("Who is collecting? (only the pupil's contacts are listed)")
                    yield OptionList(id="collectors")
                with Vertical(id="step-id"):
                    yield Plain("Which photo ID did you check? (record the type, never a copy)")
                    yield OptionList(id="id-types")
                with VerticalScroll(id="step-decision"):
                    yield DecisionPanel(id="decision")
                    yield OptionList(id="decision-options")
                with Vertical(id="step-refused"):
                    yield Plain("", id="refused-text")
                    yield OptionList(id="refused-options")
                with Vertical(id="step-door"):
                    yield Plain("", id="door-text")
                    yield OptionList(id="door-options")
            yield Plain("", id="form-error")

    def on_mount(self) -> None:
        self._step("step-find", "#filter")
        self._load()

    def _load(self) -> None:
        who = self.actor
        self.call(lambda: self.kiosk.custody.holdings(who), self._loaded)

    def _loaded(self, holdings: list[HoldingView]) -> None:
        self.holdings = [h for h in holdings if h.state in RELEASABLE]
        self._filter(self.query_one("#filter", Input).value)

    # ------------------------------------------------------------------ find
    def _filter(self, text: str, pupil_id: int | None = None) -> None:
        words = text.lower().split()
        self.shown = [
            h
            for h in self.holdings
            if (pupil_id is None or h.pupil_id == pupil_id)
            and all(
                w in f"{h.pupil_name} {h.tutor_group} {h.locker} {h.kind}".lower() for w in words
            )
        ]
        menu = self.query_one("#held", OptionList)
        menu.clear_options()
        menu.add_options([option(holding_line(self.kiosk, h), id=str(h.id)) for h in self.shown])
        if self.shown:
            menu.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "filter" and self.shown:
            menu = self.query_one("#held", OptionList)
            self._holding_chosen(self.shown[menu.highlighted or 0])

    def on_key(self, event: events.Key) -> None:
        if event.key in ("down", "up") and self.focused is self.query_one("#filter", Input):
            event.stop()
            menu = self.query_one("#held", OptionList)
            (menu.action_cursor_down if event.key == "down" else menu.action_cursor_up)()

    def card_looked_up(self, tap: CardTap) -> None:
        """A pupil's card: their holdings and contacts came in the tap's one read (issue 15),
        so choosing the phone asks nothing more before the collector list."""
        pupil = tap.pupil
        assert pupil is not None  # the app routes a card that is no pupil's to sign-in
        step = self.query_one(ContentSwitcher).current
        if step == "step-find":
            self.tapped = pupil
            # What is held now (the list loaded when the screen opened may be older).
            fresh = [h for h in tap.holdings if h.state in RELEASABLE]
            others = [h for h in self.holdings if h.pupil_id != pupil.id]
            self.holdings = sorted(others + fresh, key=lambda h: h.id, reverse=True)
            self._filter("", pupil.id)
            if len(self.shown) == 1:
                self._holding_chosen(self.shown[0])
            elif not self.shown:
                self._error(f"No phone of {pupil.name} is held.")
            else:
                self.query_one("#held", OptionList).focus()
        elif step == "step-collector" and self.holding and pupil.id == self.holding.pupil_id:
            self._collector_chosen(Collector("pupil"), f"{pupil.name} (the pupil)")

    def _holding_chosen(self, holding: HoldingView) -> None:
        self.holding = holding
        who = self.actor
        tapped = self.tapped
        if tapped is not None and tapped.id == holding.pupil_id:
            self._pupil_loaded(tapped)  # the card's read brought the contacts already
            return

        def load() -> Any:
            if holding.pupil_id is None:
                return None
            found = self.kiosk.custody.find_pupils(who, holding.pupil_name)
            return next((p for p in found if p.id == holding.pupil_id), None)

        self.call(load, self._pupil_loaded)

    def _pupil_loaded(self, pupil: PupilView | None) -> None:
        h = self.holding
        assert h is not None
        self.pupil = pupil
        where = f"{h.locker}" + (f" pouch {h.pouch_number}" if h.pouch_number else "")
        self.query_one("#who", Static).update(
            f"{h.pupil_name} ({h.tutor_group}): {h.device_description} in {where}, "
            f"{h.kind.replace('_', ' ')}, {h.state.replace('_', ' ')}"
        )
        menu = self.query_one("#collectors", OptionList)
        menu.clear_options()
        self._collectors: list[tuple[Collector, str]] = []
        for c in pupil.contacts if pupil else ():
            flags = ["may collect" if c.may_collect else "NOT allowed to collect"]
            if c.parental_responsibility:
                flags.append("parental responsibility")
            self._collectors.append((Collector("contact", c.id), f"{c.name} ({c.relationship})"))
            menu.add_option(option(f"{c.name} - {c.relationship} - {', '.join(flags)}"))
        if pupil is not None:
            self._collectors.append((Collector("pupil"), f"{pupil.name} (the pupil)"))
            menu.add_option(option(f"{pupil.name} - the pupil themself"))
        menu.add_option(option("An adult NOT on this list: refuse and record (x)", id="stranger"))
        menu.highlighted = 0
        self._step("step-collector", "#collectors")

    # ------------------------------------------------------------------ collector, ID
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        menu = event.option_list.id
        if menu == "held":
            self._holding_chosen(self.shown[event.option_index])
        elif menu == "collectors":
            if event.option.id == "stranger":
                self._refuse_form(None, "")
            else:
                self._collector_chosen(*self._collectors[event.option_index])
        elif menu == "id-types":
            self.id_type = event.option.id
            if self._override_reason is not None:
                self._begin(self._override_reason)
            else:
                self._check()
        elif menu == "decision-options":
            self._decision_option(event.option.id or "")
        elif menu == "door-options":
            self._door_option(event.option.id or "")
        elif menu == "refused-options":
            if event.option.id == "back":
                self._step("step-collector", "#collectors")
            else:
                self.app.pop_screen()

    def _collector_chosen(self, collector: Collector, name: str) -> None:
        """Ask the policy about the collector first; the ID type only if it allows them."""
        self.collector, self.collector_name = collector, name
        self.id_type = None
        self._refusal_recordable = False
        h, who = self.holding, self.actor
        assert h is not None
        self.call(
            lambda: self.kiosk.custody.check_collector(who, h.id, collector),
            self._collector_checked,
        )

    def _collector_checked(self, check: CollectorCheck) -> None:
        self._id_required = check.id_required
        # The use-case says whether recording this adult as refused applies (the rule is
        # not decided here): not for a contact who may collect but is refused as too early.
        self._refusal_recordable = check.refusal_recordable
        self._override_reason = None
        if not check.needs_id:
            self._decided(check.decision)
            return
        self._ask_id()

    def _ask_id(self) -> None:
        menu = self.query_one("#id-types", OptionList)
        menu.clear_options()
        menu.add_options([option(id_label(code), id=code) for code in self._id_types()])
        menu.add_option(option("No photo ID shown", id=""))
        menu.highlighted = 0
        self._step("step-id", "#id-types")

    def _id_types(self) -> tuple[str, ...]:
        return tuple(self.kiosk.profile.release.accepted_id_types.value or DEFAULT_ID_TYPES)

    # ------------------------------------------------------------------ refused adult
    def action_refuse(self) -> None:
        """``x``: the adult at the hatch is refused; record them (name, ID seen, bar)."""
        step = self.query_one(ContentSwitcher).current
        if self.holding is None or step not in ("step-collector", "step-id", "step-decision"):
            return
        collector, name = self.collector, self.collector_name
        if step == "step-collector":
            index = self.query_one("#collectors", OptionList).highlighted or 0
            collector, name = (
                self._collectors[index] if index < len(self._collectors) else (None, "")
            )
        if collector is not None and collector.kind == "pupil":
            collector, name = None, ""
        self._refuse_form(collector, name)

    def _refuse_form(self, collector: Collector | None, label: str) -> None:
        h = self.holding
        assert h is not None
        contact_id = collector.contact_id if collector is not None else None
        name = ""
        if contact_id is not None and self.pupil is not None:
            name = next((c.name for c in self.pupil.contacts if c.id == contact_id), "")
        who = self.actor

        def answered(adult: RefusedAdult | None) -> None:
            if adult is None:
                return
            self.call(
                lambda: self.kiosk.custody.record_refused_collection(
                    who,
                    h.id,
                    name_given=adult.name_given,
                    id_type_seen=adult.id_type_seen,
                    contact_id=contact_id,
                    barred=adult.barred,
                ),
                lambda refusal: self._refusal_recorded(refusal, adult.name_given),
            )

        self.app.push_screen(
            RefusedAdultForm(
                name=name,
                id_types=tuple((code, id_label(code)) for code in self._id_types()),
                pupil=h.pupil_name,
            ),
            answered,
        )

    def _refusal_recorded(self, refusal: Refusal, name: str) -> None:
        self.query_one("#refused-text", Static).update(refusal_text(refusal, name))
        menu = self.query_one("#refused-options", OptionList)
        menu.clear_options()
        menu.add_options([option("Done", id="done"), option("Back: another collector", id="back")])
        menu.highlighted = 0
        self._step("step-refused", "#refused-options")

    # ------------------------------------------------------------------ decision
    def _check(self) -> None:
        h, collector, id_type, who = self.holding, self.collector, self.id_type, self.actor
        assert h is not None and collector is not None
        self.call(
            lambda: self.kiosk.custody.check_release(who, h.id, collector, id_type or None),
            self._decided,
        )

    def _decided(self, decision: Decision) -> None:
        self.decision = decision
        h = self.holding
        assert h is not None
        head = (
            f"ALLOWED: {self.collector_name} may collect it"
            if decision.allowed
            else f"REFUSED: do not hand this phone to {self.collector_name}"
        )
        self.query_one("#decision", DecisionPanel).show(decision, head)
        menu = self.query_one("#decision-options", OptionList)
        menu.clear_options()
        if decision.allowed:
            menu.add_option(option(f"Open locker {h.locker} and hand it over", id="open"))
        else:
            if self._refusal_recordable:
                menu.add_option(
                    option("Refuse and record this adult (name, ID seen, bar)", id="refuse")
                )
            if self.actor.can(Permission.OVERRIDE):
                menu.add_option(option("Override with a written reason (senior)", id="override"))
        menu.add_option(option("Back: choose another collector", id="back"))
        menu.highlighted = 0
        # The decision is read from its headline (ALLOWED / REFUSED, then every reason) before
        # anyone opens a door (DESIGN.md, release rules); the options are focused below it.
        self._step("step-decision", "#decision-options", scroll_visible=False)
        self.query_one("#step-decision", VerticalScroll).scroll_home(animate=False)

    def _decision_option(self, choice: str) -> None:
        if choice == "open":
            self._begin(None)
        elif choice == "override":
            self.action_override()
        elif choice == "refuse":
            self.action_refuse()
        else:
            self._step("step-collector", "#collectors")

    def action_override(self) -> None:
        if self.query_one(ContentSwitcher).current != "step-decision" or self.decision is None:
            return
        if self.decision.allowed or not self.actor.can(Permission.OVERRIDE):
            return
        minimum = self.kiosk.profile.override.min_reason_chars.value

        def answered(reason: str | None) -> None:
            if not reason:
                return
            if self._id_required and not self.id_type:
                self._override_reason = reason  # the ID type is still recorded first
                self._ask_id()
            else:
                self._begin(reason)

        self.app.push_screen(
            TextPrompt(
                "Why is this release overridden? (recorded with your name)",
                placeholder="e.g. mother collecting, ID checked by phone with father",
                min_chars=minimum,
            ),
            answered,
        )

    def _begin(self, override_reason: str | None) -> None:
        if self._busy:
            return
        self._busy = True
        h, collector, id_type, who = self.holding, self.collector, self.id_type, self.actor
        assert h is not None and collector is not None
        job = self.job = self.kiosk.begin_task(TaskKind.RELEASE)
        kiosk, custody = self.kiosk, self.kiosk.custody

        def commit_then_open() -> str:
            """Commit first, then pulse (DESIGN.md), both on this worker: the unlock command
            does not wait for a hop through the UI thread (issue 15; ~1.6 ms median here).

            The worker records the holding on the task before returning (a lock may land
            while it is saving: the app then rolls it back, its door never opened); a lock
            that lands after the commit makes the service refuse to open the door.
            """
            kiosk.service.commit(
                job,
                lambda: custody.begin_release(
                    who, h.id, collector, id_type or None, override_reason=override_reason
                ),
                lambda result: result[0],
            )
            if not kiosk.service.is_current(job):
                return "taken over"  # a lock took the task over: the service rolled it back
            return "opening" if kiosk.run_door(job, who, self._door_done) else "locked"

        self.call(commit_then_open, self._begun, self._refused)

    def _refused(self, exc: Exception) -> None:
        self._busy = False
        self.kiosk.end_task(self.job)
        if isinstance(exc, PolicyRefused):
            self.query_one("#decision", DecisionPanel).show(exc.decision)
        self._error(problem_text(exc))

    def _begun(self, door: str) -> None:
        self._busy = False
        if door == "taken over":
            return
        self._show_door()
        if door == "locked":
            self._error("The kiosk was locked: nothing was opened.")
        elif self._early_door is not None:  # the door step ended before this got here
            out, self._early_door = self._early_door, None
            self._door_done(out)

    # ------------------------------------------------------------------ door
    def _open_door(self) -> None:
        """Keep waiting for the door: the door step again, from the UI thread."""
        self._show_door()
        assert self.job is not None
        if not self.kiosk.run_door(self.job, self.actor, self._door_done):
            self._error("The kiosk was locked: nothing was opened.")

    def _show_door(self) -> None:
        self._door_shown = True
        assert self.job is not None and self.job.holding is not None
        h = self.job.holding
        pouch = f", pouch {h.pouch_number}" if h.pouch_number else ""
        self.query_one("#door-text", Static).update(
            f"Locker {h.locker}{pouch} is opening.\n\n"
            f"Hand the phone to {self.collector_name} and CLOSE THE DOOR."
        )
        options = self.query_one("#door-options", OptionList)
        options.clear_options()
        options.display = False
        self._step("step-door", "#door-options")

    def _door_done(self, out: DoorOutcome) -> None:
        result, error = out.result, out.error
        if not self.is_attached:
            return
        if not self._door_shown:
            # The door was opened from the worker; its outcome can in principle overtake
            # the worker's own report (_begun), which shows it once the door step is up.
            self._early_door = out
            return
        if error is not None or result is None:
            self._error(problem_text(error or RuntimeError("no result")))
            self._door_choices("The door step failed.")
            return
        if result.outcome == "not_closed":
            self._door_choices(result.message)
            return
        self.kiosk.end_task(self.job)
        text = self.query_one("#door-text", Static)
        if result.ok:
            id_seen = f" ID seen: {id_label(self.id_type)}." if self.id_type else ""
            text.update(f"{result.message} Handed to {self.collector_name}.{id_seen}")
        else:
            text.update(result.message)
        options = self.query_one("#door-options", OptionList)
        options.clear_options()
        options.add_option(option("Done", id="done"))
        if result.ok and isinstance(result, DoorResult):
            self._receipt_of = result.holding.id
            options.add_option(option("Show the receipt (to print it)", id="receipt"))
        options.display = True
        options.highlighted = 0
        options.focus()

    def _door_choices(self, message: str) -> None:
        self._offer_door_choices(
            message,
            cancel="Cancel: the phone was NOT handed over (it stays held)",
            cancel_id="cancel",
        )

    def _door_option(self, choice: str) -> None:
        if choice == "wait":
            self._open_door()
        elif choice == "receipt":
            from tui.screens.receipt import ReceiptScreen

            self.app.switch_screen(ReceiptScreen(self._receipt_of))
        elif choice == "cancel":
            assert self.job is not None and self.job.holding is not None
            who, holding_id = self.actor, self.job.holding.id
            self.call(
                lambda: self.kiosk.custody.cancel_release(who, holding_id, "cancelled at hatch"),
                lambda _h: self._cancelled(),
            )
        else:
            self.app.pop_screen()

    def _cancelled(self) -> None:
        self.kiosk.end_task(self.job)
        self.notify("Cancelled: the phone is still held.")
        self.app.pop_screen()

    def action_back(self) -> None:
        current = self.query_one(ContentSwitcher).current
        if current == "step-door":
            if self.job is not None and self.job.door_running:
                self.notify("Close the locker door first.", severity="warning")
            return
        back = {
            "step-collector": ("step-find", "#filter"),
            "step-id": ("step-collector", "#collectors"),  # drops a pending override
            "step-decision": ("step-collector", "#collectors"),
            "step-refused": ("step-collector", "#collectors"),
        }
        if current in back:
            self._step(*back[current])
            return
        self.app.pop_screen()


def holding_line(app: KioskApp, h: HoldingView) -> str:
    since = (h.held_at or h.created_at).astimezone(app.config.tz)
    where = (h.locker or "?") + (f"/{h.pouch_number}" if h.pouch_number else "")
    flag = "  HOLD" if h.state is HoldingState.SAFEGUARDING_HOLD else ""
    kind = {
        HoldingKind.CONFISCATION: "conf.",
        HoldingKind.EXAM_DEPOSIT: "exam",
        HoldingKind.SAFEKEEPING: "safe",
    }.get(h.kind, h.kind)
    return f"{h.pupil_name:<18} {h.tutor_group:<4} {where:<6} {kind:<5} {since:%a %H:%M}{flag}"
