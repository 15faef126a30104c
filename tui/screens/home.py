"""Home after sign-in: what this person may do, and what needs attention (overdue, alarms).

Only the actions the person's roles permit are listed (``Identity.can``), so a teacher never
sees a release button they would be refused at, and a technician sees no pupil data at all.
Tapping a pupil card here starts a confiscation: the common case costs no keystroke.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from kiosk.permissions import Permission as P
from kiosk.views import HALF_WAY_STATES, HoldingState, HoldingView, PupilView
from tui.screens.base import KioskScreen
from tui.widgets.text import Plain, option

#: (key, label, action, any of these permissions)
MENU: tuple[tuple[str, str, str, tuple[P, ...]], ...] = (
    ("c", "Confiscate a phone", "confiscate", (P.CONFISCATE,)),
    ("r", "Release a phone to a parent or carer", "release", (P.RELEASE,)),
    ("v", "Voluntary hand-in (amnesty, PE, medical)", "amnesty", (P.SAFEKEEPING,)),
    ("e", "Exam deposits", "exams", (P.EXAM_SESSION, P.EXAM_DEPOSIT)),
    (
        "s",
        "Holdings and safeguarding",
        "holdings",
        (P.SAFEGUARDING_HOLD, P.PARENT_INFORMED, P.AUTHORISE_SEARCH, P.POLICE_HANDOVER),
    ),
    ("l", "Locker grid", "lockers", (P.VIEW_HOLDINGS, P.HARDWARE)),
    ("t", "Technician: hardware tests", "technician", (P.HARDWARE,)),
    ("b", "Staff and badges", "staff", (P.STAFF_ADMIN,)),
    ("p", "Change my PIN", "pin", tuple(P)),
)


class HomeScreen(KioskScreen):
    HEADING = "Home"
    BINDINGS = [
        Binding("c", "go('confiscate')", "Confiscate", show=False),
        Binding("r", "go('release')", "Release", show=False),
        Binding("v", "go('amnesty')", "Hand-in", show=False),
        Binding("e", "go('exams')", "Exams", show=False),
        Binding("s", "go('holdings')", "Holdings", show=False),
        Binding("l", "go('lockers')", "Lockers", show=False),
        Binding("t", "go('technician')", "Technician", show=False),
        Binding("b", "go('staff')", "Staff", show=False),
        Binding("p", "go('pin')", "My PIN", show=False),
        Binding("a", "acknowledge", "Acknowledge alarms"),
        Binding("escape", "sign_out", "Sign out"),
    ]

    def compose_body(self) -> ComposeResult:
        with Vertical(id="home-body"):
            yield Plain("", id="home-summary")
            yield OptionList(*self._menu(), id="home-menu")
            yield Plain(
                "Tap a pupil's card to start a confiscation. Tap your badge to sign out.",
                id="home-hint",
            )

    def _menu(self) -> list[Option]:
        who = self.kiosk.identity
        return [
            option(f"{key}  {label}", id=action)
            for key, label, action, perms in MENU
            if who is not None and any(who.can(p) for p in perms)
        ]

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.refresh_summary()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self.is_mounted:
            self.refresh_summary()

    def refresh_summary(self) -> None:
        who = self.kiosk.identity
        if who is None or not who.can(P.VIEW_HOLDINGS):
            self.query_one("#home-summary", Static).update("This role sees no pupil data.")
            return
        custody = self.kiosk.custody
        self.call(lambda: (custody.holdings(who), custody.overdue(who)), self._summary)

    def _summary(self, result: tuple[list[HoldingView], list[Any]]) -> None:
        held, overdue = result
        on_hold = sum(1 for h in held if h.state is HoldingState.SAFEGUARDING_HOLD)
        lines = [
            f"Held now: {len(held)} phone(s)"
            + (f", {on_hold} on safeguarding hold" if on_hold else "")
            + "."
        ]
        if overdue:
            lines.append(f"OVERDUE: {len(overdue)}")
            for h, reason in overdue[:3]:
                lines.append(f"  {h.pupil_name} ({h.locker}): {reason.text}")
        unfinished = [h for h in held if h.state in HALF_WAY_STATES]
        if unfinished:
            lines.append(
                f"{len(unfinished)} unfinished deposit/release: see Holdings (s) to settle."
            )
        summary = self.query_one("#home-summary", Static)
        summary.update("\n".join(lines))
        summary.set_class(bool(overdue), "overdue")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.action_go(event.option.id)

    def action_go(self, where: str) -> None:
        allowed = {o.id for o in self._menu()}
        if where not in allowed:
            self.notify("Your role does not include that.", severity="warning")
            return
        self.app.push_screen(open_screen(where))

    def pupil_tapped(self, pupil: PupilView) -> None:
        if self.kiosk.identity is not None and self.kiosk.identity.can(P.CONFISCATE):
            from tui.screens.confiscate import ConfiscateScreen

            self.app.push_screen(ConfiscateScreen(pupil))
        else:
            self.notify(
                f"Pupil card: {pupil.name} ({pupil.tutor_group}). Nothing was done; you are "
                "still signed in."
            )

    def action_acknowledge(self) -> None:
        self.kiosk.acknowledge_alarms()

    def action_sign_out(self) -> None:
        self.kiosk.lock("Signed out.")


def open_screen(where: str) -> KioskScreen:
    """The screen for a menu action (imported lazily: start-up time on a Pi Zero counts)."""
    if where == "confiscate":
        from tui.screens.confiscate import ConfiscateScreen

        return ConfiscateScreen()
    if where == "release":
        from tui.screens.release import ReleaseScreen

        return ReleaseScreen()
    if where == "amnesty":
        from tui.screens.amnesty import AmnestyScreen

        return AmnestyScreen()
    if where == "exams":
        from tui.screens.exam import ExamScreen

        return ExamScreen()
    if where == "holdings":
        from tui.screens.safeguarding import HoldingsScreen

        return HoldingsScreen()
    if where == "lockers":
        from tui.screens.lockers import LockersScreen

        return LockersScreen()
    if where == "staff":
        from tui.screens.staff import StaffScreen

        return StaffScreen()
    if where == "pin":
        from tui.screens.pin_change import PinChangeScreen

        return PinChangeScreen("own", name="Change your PIN")
    from tui.screens.technician import TechnicianScreen

    return TechnicianScreen()
