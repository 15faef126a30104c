"""Staff and badges (issue 14): enrol a badge by tapping it, PINs, unlocks, lost badges,
roles (``r``: grant or remove one; until then roles could only be set by import).

For a senior leader or an office administrator (``Permission.STAFF_ADMIN``). Every action is
a use-case of :class:`kiosk.usecases.staff.StaffUseCases`, which checks who may manage whom
(only a senior manages a senior, DSL or administrator; nobody resets their own PIN set-up)
and records the event; this screen shows the list, sends the intent and shows the answer.

Badges are never typed: ``b`` waits for the new badge to be tapped on the desk reader (the
one the kiosk reads every card from), and the tap goes to the enrolment, not to sign-in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, OptionList, Static

from kiosk.usecases.staff import EnrolmentCode, StaffView
from tui.screens.base import KioskScreen, problem_text
from tui.screens.styles import STAFF_TCSS
from tui.widgets.text import Plain, option, plain


class Confirm(ModalScreen[bool]):
    """Yes/no for an action that cannot be taken back in one key (a lost badge)."""

    CSS_PATH = STAFF_TCSS

    BINDINGS = [Binding("escape", "no", "Cancel")]

    def __init__(self, question: str, yes: str) -> None:
        super().__init__()
        self.question, self.yes = question, yes

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Plain(self.question, id="confirm-question")
            yield OptionList(option(self.yes, id="yes"), option("No, go back", id="no"))

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id == "yes")

    def action_no(self) -> None:
        self.dismiss(False)


#: How a role reads on the screen (the stored names are for the import and the ledger).
ROLE_WORDS = {
    "office": "office staff",
    "teacher": "teacher",
    "dsl": "designated safeguarding lead (DSL)",
    "senior": "senior leader",
    "exams": "exams officer",
    "technician": "technician",
    "office_admin": "office administrator",
}


class RoleMenu(ModalScreen[tuple[str, str] | None]):
    """Grant a role the person lacks or remove one they have: ``(verb, role)`` or None.

    Every role is offered; who may change which (only a senior for senior, DSL and office
    administrator; nobody for themselves; never the last senior or DSL) is the use-case's
    rule, and its refusal is shown in words.
    """

    CSS_PATH = STAFF_TCSS

    BINDINGS = [Binding("escape", "no", "Cancel")]

    def __init__(self, person: StaffView) -> None:
        super().__init__()
        self.person = person

    def compose(self) -> ComposeResult:
        held = set(self.person.roles)
        with Vertical(id="prompt-box"):
            yield Plain(f"Roles of {self.person.name}: grant or remove one (recorded).")
            yield OptionList(
                *[
                    option(
                        f"Remove: {words}" if role in held else f"Grant: {words}",
                        id=f"{'revoke' if role in held else 'grant'}:{role}",
                    )
                    for role, words in ROLE_WORDS.items()
                ]
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        verb, _, role = (event.option.id or "").partition(":")
        self.dismiss((verb, role))

    def action_no(self) -> None:
        self.dismiss(None)


def state_words(person: StaffView) -> str:
    """The one-column summary of what stops or awaits this person."""
    if not person.active:
        return "left"
    if person.locked:
        return "LOCKED"
    if person.enrolment_pending:
        return "code issued"
    if not person.has_pin:
        return "no PIN"
    if person.must_change_pin:
        return "must change PIN"
    return "ok"


class StaffScreen(KioskScreen):
    """The staff list and the badge/PIN actions on the highlighted person."""

    CSS_PATH = STAFF_TCSS

    HEADING = "Staff and badges"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("b", "enrol", "Enrol badge"),
        Binding("c", "code", "PIN code"),
        Binding("p", "set_pin", "PIN now"),
        Binding("u", "unlock", "Unlock"),
        Binding("x", "lost", "Lost badge"),
        Binding("f", "force", "Force change", show=False),
        Binding("r", "roles", "Roles"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.people: list[StaffView] = []
        #: The member of staff whose new badge is awaited on the reader (``b``), if any.
        self.enrolling: StaffView | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="staff-body"):
            yield DataTable(id="staff", cursor_type="row", zebra_stripes=False)
            yield Plain("", id="staff-result")

    def on_mount(self) -> None:
        table = self.query_one("#staff", DataTable)
        table.add_columns("Name", "Roles", "Badge", "PIN / state")
        table.focus()
        self.reload()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.is_mounted:
            self.reload()

    def reload(self) -> None:
        who = self.actor
        self.call(lambda: self.kiosk.custody.staff_list(who), self._listed)

    def _listed(self, people: list[StaffView]) -> None:
        table = self.query_one("#staff", DataTable)
        row = table.cursor_row
        self.people = [p for p in people if p.active]
        table.clear()
        for p in self.people:
            table.add_row(
                plain(p.name),
                plain(", ".join(p.roles)),
                plain("yes" if p.has_badge else "NONE"),
                plain(state_words(p)),
                key=str(p.id),
            )
        if self.people:
            table.move_cursor(row=min(row, len(self.people) - 1))

    def _say(self, text: str) -> None:
        self.query_one("#staff-result", Static).update(text)

    def _chosen(self) -> StaffView | None:
        table = self.query_one("#staff", DataTable)
        if not self.people:
            return None
        return self.people[min(table.cursor_row, len(self.people) - 1)]

    def _do(self, what: Callable[[StaffView], Any], done: Callable[[StaffView, Any], str]) -> None:
        person = self._chosen()
        if person is None:
            return

        def finished(result: Any) -> None:
            self._say(done(person, result))
            self.reload()

        self.call(lambda: what(person), finished, lambda exc: self._say(problem_text(exc)))

    # ------------------------------------------------------------------ badges
    def action_enrol(self) -> None:
        person = self._chosen()
        if person is None:
            return
        self.enrolling = person
        self._say(
            f"Tap the new badge for {person.name} on the reader now. "
            "(Esc cancels; any old badge of theirs stops working.)"
        )

    def card_tapped(self, uid: str) -> bool:
        """While a badge is awaited, the tap is the new badge; otherwise the app routes it."""
        person = self.enrolling
        if person is None:
            return False
        self.enrolling = None
        who, custody = self.actor, self.kiosk.custody
        self._say("Enrolling...")
        self.call(
            lambda: custody.enrol_badge(who, person.id, uid),
            lambda _none: self._enrolled(person),
            lambda exc: self._say(problem_text(exc)),
        )
        return True

    def _enrolled(self, person: StaffView) -> None:
        follow = "" if person.has_pin else " Next: give them a PIN code (c) or set a PIN now (p)."
        self._say(f"Badge enrolled for {person.name}.{follow}")
        self.reload()

    def action_lost(self) -> None:
        person = self._chosen()
        if person is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                who, custody = self.actor, self.kiosk.custody
                self._do(
                    lambda p: custody.report_lost_badge(who, p.id),
                    lambda p, _r: f"{p.name}'s badge is disabled now. Enrol a new one (b).",
                )

        self.app.push_screen(
            Confirm(
                f"{person.name}'s badge is lost: disable it now? It stops working at once.",
                "Yes, disable the badge now",
            ),
            answered,
        )

    def action_unlock(self) -> None:
        who, custody = self.actor, self.kiosk.custody
        self._do(
            lambda p: custody.unlock_badge(who, p.id),
            lambda p, _r: f"{p.name} is unlocked and may sign in again.",
        )

    # ------------------------------------------------------------------ PINs
    def action_code(self) -> None:
        who, custody = self.actor, self.kiosk.custody

        def shown(p: StaffView, code: EnrolmentCode) -> str:
            until = code.expires_at.astimezone(self.kiosk.config.tz)
            return (
                f"One-time code for {p.name}: {code.code}  (until {until:%a %d %b %H:%M}). "
                "They tap their badge, type it where the PIN goes, then choose their PIN. "
                "Any old PIN has stopped working. The code is shown only now."
            )

        self._do(lambda p: custody.issue_enrolment_code(who, p.id), shown)

    def action_set_pin(self) -> None:
        """The person is here: they type their new PIN twice on the PIN screen, unseen."""
        person = self._chosen()
        if person is None:
            return
        who, custody = self.actor, self.kiosk.custody

        def approved(ticket: Any) -> None:
            from tui.screens.pin_change import PinChangeScreen

            self._say("")
            self.app.push_screen(
                PinChangeScreen(
                    "approved",
                    name=person.name,
                    ticket=ticket,
                    why=f"{person.name}: choose your PIN (the administrator looks away).",
                )
            )

        self.call(
            lambda: custody.approve_pin_setup(who, person.id),
            approved,
            lambda exc: self._say(problem_text(exc)),
        )

    def action_force(self) -> None:
        who, custody = self.actor, self.kiosk.custody
        self._do(
            lambda p: custody.require_pin_change(who, p.id),
            lambda p, _r: f"{p.name} must choose a new PIN at their next sign-in.",
        )

    # ------------------------------------------------------------------ roles
    def action_roles(self) -> None:
        """Grant or remove a role of the highlighted person, through the use-case."""
        person = self._chosen()
        if person is None:
            return

        def chosen(answer: tuple[str, str] | None) -> None:
            if answer is None:
                return
            verb, role = answer
            who, custody = self.actor, self.kiosk.custody
            words = ROLE_WORDS.get(role, role)
            if verb == "grant":
                self._do(
                    lambda p: custody.grant_role(who, p.id, role),
                    lambda p, _r: f"{p.name} is now also {words}.",
                )
            else:
                self._do(
                    lambda p: custody.revoke_role(who, p.id, role),
                    lambda p, _r: f"{p.name} is no longer {words} (from their next action).",
                )

        self.app.push_screen(RoleMenu(person), chosen)

    def action_back(self) -> None:
        if self.enrolling is not None:
            self.enrolling = None
            self._say("No badge was enrolled.")
            return
        self.app.pop_screen()
