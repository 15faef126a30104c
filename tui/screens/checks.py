"""After a locker was forced open with a phone inside: is the phone still there? (issue 14)

The station flags every phone in a forced-open locker (:mod:`kiosk.usecases.checks`); the
first member of staff with pupil access to sign in afterwards gets this screen on top of
Home. For each phone: look in the locker, then ``Enter`` "still there" (recorded) or ``m``
"missing", which records an incident for the DSL and parents (seed 003 §9.1). ``Esc`` leaves
the check for later; it is asked again at the next sign-in until someone answers.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static

from kiosk.views import HoldingView
from tui.screens.base import KioskScreen
from tui.screens.styles import STAFF_TCSS
from tui.widgets.prompt import TextPrompt
from tui.widgets.text import Plain, option


class ChecksScreen(KioskScreen):
    CSS_PATH = STAFF_TCSS
    HEADING = "Check forced lockers"
    BINDINGS = [
        Binding("escape", "later", "Later"),
        Binding("t", "still_there", "Still there"),
        Binding("m", "missing", "Missing"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.flagged: list[HoldingView] = []

    def compose_body(self) -> ComposeResult:
        with Vertical(id="checks-body"):
            yield Plain(
                "A locker was FORCED OPEN with a phone inside. Look in the locker, then say "
                "whether each phone is still there.",
                id="checks-intro",
            )
            yield OptionList(id="flagged")
            yield Plain("", id="checks-result")

    def on_mount(self) -> None:
        self.query_one("#flagged", OptionList).focus()
        self.reload()

    def reload(self) -> None:
        who = self.actor
        self.call(lambda: self.kiosk.custody.holdings_to_check(who), self._loaded)

    def _loaded(self, flagged: list[HoldingView]) -> None:
        self.flagged = flagged
        menu = self.query_one("#flagged", OptionList)
        menu.clear_options()
        menu.add_options(
            [
                option(
                    f"Locker {h.locker}: {h.pupil_name} ({h.tutor_group}), "
                    f"{h.device_description}, #{h.id}",
                    id=str(h.id),
                )
                for h in flagged
            ]
        )
        if flagged:
            menu.highlighted = 0
        else:
            self.app.pop_screen()
            self.notify("Every phone in a forced locker has been checked.")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_still_there()

    def _chosen(self) -> HoldingView | None:
        menu = self.query_one("#flagged", OptionList)
        if not self.flagged or menu.highlighted is None:
            return None
        return self.flagged[menu.highlighted]

    def _say(self, text: str) -> None:
        self.query_one("#checks-result", Static).update(text)

    def action_still_there(self) -> None:
        h = self._chosen()
        if h is None:
            return
        who = self.actor

        def done(_none: None) -> None:
            self.notify(f"Recorded: the phone in {h.locker} is still there.")
            self.reload()

        self.call(lambda: self.kiosk.custody.confirm_still_there(who, h.id), done)

    def action_missing(self) -> None:
        h = self._chosen()
        if h is None:
            return
        who = self.actor

        def noted(note: str | None) -> None:
            if note is None:
                return

            def done(incident_id: int) -> None:
                self.notify(
                    f"Incident {incident_id} recorded: the phone of {h.pupil_name} is missing "
                    f"from {h.locker}. Tell the DSL and the parents.",
                    severity="warning",
                    timeout=15,
                )
                self.reload()

            self.call(lambda: self.kiosk.custody.record_missing(who, h.id, note), done)

        self.app.push_screen(
            TextPrompt(
                f"The phone in {h.locker} is MISSING. What did you find? (recorded as an incident)",
                placeholder="e.g. locker empty, door bent",
            ),
            noted,
        )

    def action_later(self) -> None:
        self.notify("Not checked: the next sign-in will be asked again.", severity="warning")
        self.app.pop_screen()
