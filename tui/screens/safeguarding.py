"""Holdings and safeguarding: every phone held now, and the actions on one of them.

Hold, lift, police hand-over, search authorisation and "parent informed" are offered only to
roles that have them, each asks for the written reason or reference the policy requires, and
a refusal shows the policy's reasons. Holdings a crash or a lock left ``depositing`` or
``releasing`` are settled here too (confirm or roll back), after checking the locker.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable

from kiosk.custody import PolicyRefused
from kiosk.permissions import Permission as P
from kiosk.views import HALF_WAY_STATES, HoldingState, HoldingView
from tui.screens.base import KioskScreen, problem_text
from tui.widgets.decision_panel import DecisionPanel
from tui.widgets.prompt import TextPrompt
from tui.widgets.text import plain

#: key, action, label, permission
ACTIONS: tuple[tuple[str, str, str, P], ...] = (
    ("h", "hold", "Hold", P.SAFEGUARDING_HOLD),
    ("u", "lift", "Lift hold", P.SAFEGUARDING_HOLD),
    ("p", "police", "Police", P.POLICE_HANDOVER),
    ("a", "search", "Search auth.", P.AUTHORISE_SEARCH),
    ("i", "informed", "Parent told", P.PARENT_INFORMED),
    ("k", "settle_confirm", "Confirm", P.VIEW_HOLDINGS),
    ("x", "settle_undo", "Roll back", P.VIEW_HOLDINGS),
)


class HoldingsScreen(KioskScreen):
    HEADING = "Holdings and safeguarding"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        *[Binding(key, action, label) for key, action, label, _ in ACTIONS],
    ]

    def __init__(self) -> None:
        super().__init__()
        self.holdings: list[HoldingView] = []

    def compose_body(self) -> ComposeResult:
        with Vertical(id="holdings-body"):
            yield DataTable(id="holdings", cursor_type="row", zebra_stripes=False)
            yield DecisionPanel(id="result")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide keys for actions this person's roles do not include."""
        who = self.kiosk.identity
        for _key, name, _label, perm in ACTIONS:
            if name == action:
                return who is not None and who.can(perm)
        return True

    def on_mount(self) -> None:
        table = self.query_one("#holdings", DataTable)
        table.add_columns("#", "Pupil", "Group", "Locker", "State", "Since", "Parent")
        table.focus()
        self._load()

    def _load(self) -> None:
        who = self.actor
        self.call(lambda: self.kiosk.custody.holdings(who), self._loaded)

    def _loaded(self, holdings: list[HoldingView]) -> None:
        table = self.query_one("#holdings", DataTable)
        keep = table.cursor_row
        table.clear()
        self.holdings = holdings
        for h in holdings:
            since = (h.held_at or h.created_at).astimezone(self.kiosk.config.tz)
            where = (h.locker or "-") + (f"/{h.pouch_number}" if h.pouch_number else "")
            cells = (
                str(h.id),
                h.pupil_name,
                h.tutor_group,
                where,
                h.state.replace("_", " "),
                f"{since:%d %b %H:%M}",
                "told" if h.parent_informed else "",
            )
            table.add_row(*(plain(c) for c in cells))
        if holdings:
            table.move_cursor(row=min(keep, len(holdings) - 1))

    def _selected(self) -> HoldingView | None:
        table = self.query_one("#holdings", DataTable)
        if not self.holdings:
            return None
        return self.holdings[min(table.cursor_row, len(self.holdings) - 1)]

    def _ask(self, question: str, run: Any, min_chars: int = 1, placeholder: str = "") -> None:
        h = self._selected()
        if h is None:
            return

        def answered(text: str | None) -> None:
            if text:
                who = self.actor
                self.call(lambda: run(who, h.id, text), self._done, self._refused)

        self.app.push_screen(
            TextPrompt(
                f"#{h.id} {h.pupil_name}: {question}", placeholder=placeholder, min_chars=min_chars
            ),
            answered,
        )

    def _done(self, result: Any) -> None:
        panel = self.query_one("#result", DecisionPanel)
        if hasattr(result, "allowed"):
            panel.show(result, "RECORDED")
        else:
            panel.update(
                f"Recorded: #{result.id} {result.pupil_name} is now "
                f"{result.state.replace('_', ' ')}."
            )
        self._load()

    def _refused(self, exc: Exception) -> None:
        panel = self.query_one("#result", DecisionPanel)
        if isinstance(exc, PolicyRefused):
            panel.show(exc.decision)
        else:
            panel.show(None)
            panel.update(problem_text(exc))

    # ------------------------------------------------------------------ actions
    def action_hold(self) -> None:
        self._ask("why is a safeguarding hold needed?", self.kiosk.custody.place_hold, 5)

    def action_lift(self) -> None:
        self._ask("why can the hold be lifted?", self.kiosk.custody.lift_hold, 5)

    def action_police(self) -> None:
        self._ask(
            "police reference for the hand-over",
            self.kiosk.custody.police_handover,
            placeholder="e.g. CAD 1234 21/11",
        )

    def action_search(self) -> None:
        self._ask(
            "the reasonable suspicion for a search (the kiosk never searches)",
            self.kiosk.custody.authorise_search,
            10,
        )

    def action_informed(self) -> None:
        h = self._selected()
        if h is None:
            return
        who = self.actor
        self.call(
            lambda: self.kiosk.custody.record_parent_informed(who, h.id, "phone"),
            self._done,
            self._refused,
        )

    def action_settle_confirm(self) -> None:
        """A half-way holding: the phone went in / was handed over after all."""
        self._settle(confirm=True)

    def action_settle_undo(self) -> None:
        self._settle(confirm=False)

    def _settle(self, *, confirm: bool) -> None:
        h = self._selected()
        if h is None or h.state not in HALF_WAY_STATES:
            self.notify("Only an unfinished deposit or release can be settled here.")
            return
        if self.kiosk.service.in_progress(h.id):
            self.notify("That one is in progress at the hatch.", severity="warning")
            return
        who, c = self.actor, self.kiosk.custody
        why = "settled by staff after checking the locker"
        if h.state is HoldingState.DEPOSITING:
            run = (
                (lambda: c.confirm_deposit(who, h.id))
                if confirm
                else (lambda: c.abort_deposit(who, h.id, why))
            )
        else:
            run = (
                (lambda: c.complete_release(who, h.id))
                if confirm
                else (lambda: c.cancel_release(who, h.id, why))
            )
        self.call(run, self._settled, self._refused)

    def _settled(self, result: HoldingView) -> None:
        self.kiosk.service.forget_reconciled(result.id)
        self._done(result)

    def action_back(self) -> None:
        self.app.pop_screen()
