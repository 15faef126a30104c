"""The refused-adult form at the hatch (issue 14, "At the hatch").

An adult who is not on the pupil's contact list, or who is barred, asks for a phone. Staff
record what happened: the name as given, the type of ID seen (the type only, never a copy),
and whether the office knows of a bar (a court order, a DSL instruction). The kiosk decides
which rules applied and alerts the DSL for a barred adult
(:meth:`kiosk.usecases.hatch.HatchUseCases.record_refused_collection`); the release screen
shows its answer. The form itself decides nothing: it collects three answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, Input, OptionList, Static

from kiosk.usecases.hatch import RULE_TEXT, Refusal
from tui.screens.styles import STAFF_TCSS
from tui.widgets.text import Plain, option


@dataclass(frozen=True)
class RefusedAdult:
    """What staff saw: the kiosk records it and says which rules applied."""

    name_given: str
    id_type_seen: str | None
    barred: bool


def refusal_text(refusal: Refusal, name: str) -> str:
    """The recorded refusal in words, from the rule codes the kiosk applied."""
    rules = "; ".join(RULE_TEXT.get(code, code) for code in refusal.rules)
    text = f"REFUSED and recorded (#{refusal.id}): {name} - {rules}. Do not hand anything over."
    if refusal.barred:
        text += "\nThe DSL has been alerted (it reaches the central log's tray)."
    return text


class RefusedAdultForm(ModalScreen[RefusedAdult | None]):
    """Name as given -> ID type seen -> barred or not. Esc backs out, recording nothing."""

    CSS_PATH = STAFF_TCSS

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, *, name: str, id_types: tuple[tuple[str, str], ...], pupil: str) -> None:
        super().__init__()
        self.name_given = name
        self.id_types = id_types
        self.pupil = pupil
        self.id_type: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="refuse-box"):
            yield Plain(
                f"Refuse and record: an adult asking for {self.pupil}'s phone", id="refuse-head"
            )
            with ContentSwitcher(initial="refuse-name", id="refuse-steps"):
                with Vertical(id="refuse-name"):
                    yield Plain("The name they gave (as given), then Enter")
                    yield Input(value=self.name_given, id="refuse-name-input")
                with Vertical(id="refuse-id"):
                    yield Plain("Which ID did they show? (the type only, never a copy)")
                    yield OptionList(
                        *[option(label, id=code) for code, label in self.id_types],
                        option("No ID shown", id=""),
                        id="refuse-id-types",
                    )
                with Vertical(id="refuse-bar"):
                    yield Plain("Does the office know of a bar on this adult?")
                    yield OptionList(
                        option("No bar known: refuse and record", id="no"),
                        option(
                            "BARRED (court order, DSL instruction): record, alert the DSL", id="yes"
                        ),
                        id="refuse-barred",
                    )
            yield Plain("", id="refuse-summary")
            yield Plain("", id="refuse-error")
            yield Plain("Enter to go on, Esc to cancel (nothing is recorded)", id="prompt-help")

    def on_mount(self) -> None:
        self.query_one("#refuse-name-input", Input).focus()

    def _step(self, step: str, focus: str) -> None:
        self.query_one(ContentSwitcher).current = step
        menu = self.query_one(focus, OptionList)
        menu.highlighted = 0
        menu.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip()
        if not name:
            self.query_one("#refuse-error", Static).update("Type the name the adult gave.")
            return
        self.name_given = name
        self.query_one("#refuse-error", Static).update("")
        self._summary()
        self._step("refuse-id", "#refuse-id-types")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_list.id == "refuse-id-types":
            self.id_type = event.option.id or None
            self._summary(str(event.option.prompt))
            self._step("refuse-bar", "#refuse-barred")
        else:
            self.dismiss(RefusedAdult(self.name_given, self.id_type, event.option.id == "yes"))

    def _summary(self, id_seen: str = "") -> None:
        """What has been answered so far, so staff can see it before the last Enter."""
        text = f"Name given: {self.name_given}"
        if id_seen:
            text += f"   ID seen: {id_seen}"
        self.query_one("#refuse-summary", Static).update(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
