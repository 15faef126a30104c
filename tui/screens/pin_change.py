"""Choosing a new PIN: after a reset or a first sign-in, with an administrator, or by choice.

Three ways in, one screen (issue 9, "staff change their own PIN at the kiosk"):

* ``ticket``: sign-in raised :class:`kiosk.auth.PinChangeRequired` (an enrolment code, or a
  senior required a change). New PIN twice; the kiosk sets it and the sign-in continues.
* ``approved``: a senior or office administrator approved a PIN set-up on the Staff screen
  and the person types their new PIN twice, unseen; the administrator stays signed in.
* ``own``: the signed-in person changes their PIN: current PIN, then the new one twice.

The rules (length for the role, no 1234, not the badge's digits...) are the kiosk's
(:mod:`kiosk.pin_rules`); this screen only shows their words and starts the new PIN again.
"""

from __future__ import annotations

from typing import Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from kiosk.auth import AuthError, Identity, PinChangeTicket, is_signed_in
from tui.screens.base import KioskScreen, problem_text
from tui.screens.styles import STAFF_TCSS
from tui.widgets.text import Plain

Mode = Literal["ticket", "approved", "own"]

_ASK = {
    "current": "Type your CURRENT PIN and press Enter",
    "new": "Type your NEW PIN and press Enter",
    "again": "Type the new PIN AGAIN and press Enter",
}


class PinChangeScreen(KioskScreen):
    """New PIN twice (and the current one first when changing one's own)."""

    CSS_PATH = STAFF_TCSS

    HEADING = "Choose a new PIN"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        mode: Mode,
        *,
        name: str,
        ticket: PinChangeTicket | None = None,
        badge_uid: str = "",
        why: str = "",
    ) -> None:
        super().__init__()
        self.mode: Mode = mode
        self.person = name
        self.ticket = ticket
        self.badge_uid = badge_uid.upper()
        self.why = why
        self.stage = "current" if mode == "own" else "new"
        self.current_pin = ""
        self.new_pin = ""
        self._busy = False
        self._opened = self.kiosk.service.monotonic()

    def compose_body(self) -> ComposeResult:
        with Vertical(id="pin-box"):
            yield Plain(self.person, id="pin-who")
            yield Plain(self.why, id="pin-why")
            yield Plain(_ASK[self.stage], id="pin-ask")
            yield Input(
                password=True, restrict=r"[0-9]*", max_length=8, id="new-pin", placeholder="PIN"
            )
            yield Plain("", id="pin-error")
            yield Plain(
                "Digits only. Not 1234, 1111 or a pattern, not part of your badge's number; "
                "senior leaders and DSLs use at least 6 digits.",
                id="pin-help",
            )

    def on_mount(self) -> None:
        self.query_one("#new-pin", Input).focus()
        if self.mode != "own":
            self.set_interval(1.0, self._expire)

    def title_line(self) -> str:
        if self.mode == "ticket":  # nobody is signed in yet
            return f"{self.kiosk.config.station.name}  |  {self.HEADING}"
        return super().title_line()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._opened = self.kiosk.service.monotonic()

    def _expire(self) -> None:
        """A half-chosen PIN is not left on the counter (same limit as the PIN box)."""
        if self.kiosk.service.monotonic() - self._opened > self.kiosk.login_timeout:
            self.action_cancel()

    def _ask(self, stage: str, error: str = "") -> None:
        self.stage = stage
        self.query_one("#pin-ask", Static).update(_ASK[stage])
        self.query_one("#pin-error", Static).update(error)
        box = self.query_one("#new-pin", Input)
        box.value = ""
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        pin = event.value
        if self._busy or not pin:
            return
        if self.stage == "current":
            self.current_pin = pin
            self._ask("new")
        elif self.stage == "new":
            self.new_pin = pin
            self._ask("again")
        elif pin != self.new_pin:
            self._ask("new", "The two new PINs were different: start the new PIN again.")
        else:
            self._save()

    def _save(self) -> None:
        self._busy = True
        self.query_one("#pin-error", Static).update("Saving...")
        custody, new = self.kiosk.custody, self.new_pin
        if self.mode == "own":
            who, current = self.actor, self.current_pin
            self.call(lambda: custody.change_pin(who, current, new), self._changed, self._refused)
        else:
            ticket, keep = self.ticket, self.mode == "ticket"
            assert ticket is not None
            self.call(
                lambda: custody.complete_pin_change(ticket, new, keep_signed_in=keep),
                self._set,
                self._refused,
            )

    def _refused(self, exc: Exception) -> None:
        self._busy = False
        if self.mode == "own" and self.kiosk.identity is not None:
            if not is_signed_in(self.kiosk.identity):  # locked out by wrong current PINs
                self.kiosk.lock(problem_text(exc))
                return
            if isinstance(exc, AuthError):  # the current PIN was wrong
                self.current_pin = ""
                self._ask("current", problem_text(exc))
                return
        self._ask("new", problem_text(exc))

    def _changed(self, _none: None) -> None:
        self._busy = False
        self.notify("Your PIN is changed. Use the new one from now on.")
        self.app.pop_screen()

    def _set(self, identity: Identity) -> None:
        self._busy = False
        if self.mode == "ticket":
            self.kiosk.signed_in(identity, self.badge_uid)
            return
        # approved: the administrator stays signed in (the kiosk closed the new sign-in).
        self.notify(f"PIN set for {identity.name}.")
        self.app.pop_screen()

    def action_cancel(self) -> None:
        if not self.is_current:
            return
        if self.mode == "ticket":
            self.notify("No PIN was chosen: you are not signed in.", severity="warning")
        self.app.pop_screen()
