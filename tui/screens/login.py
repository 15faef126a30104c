"""PIN entry after a badge tap. A badge alone never signs anyone in (badge UIDs are not secret).

Failed PINs and the lockout are counted by :meth:`Custody.sign_in`, which says what to show;
this screen only shows it, clears the box, and gives up after ``login_timeout`` seconds so a
half-typed PIN is not left on the counter.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from kiosk.auth import Identity, PinChangeRequired
from tui.screens.base import KioskScreen, problem_text
from tui.widgets.text import Plain


class LoginScreen(KioskScreen):
    """Badge UID known; asks for the PIN."""

    HEADING = "Sign in"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, badge_uid: str) -> None:
        super().__init__()
        self.badge_uid = badge_uid.upper()
        self._opened = self.kiosk.service.monotonic()
        self._busy = False

    def compose_body(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Plain(f"Badge {self.badge_uid}", id="login-badge")
            yield Plain("Type your PIN and press Enter")
            yield Input(
                password=True, restrict=r"[0-9]*", max_length=8, id="pin", placeholder="PIN"
            )
            yield Plain("", id="login-error")

    def on_mount(self) -> None:
        self.query_one("#pin", Input).focus()
        self.set_interval(1.0, self._expire)

    def set_badge(self, uid: str) -> None:
        """Another badge tapped while the PIN box is open: start again for that badge."""
        self.badge_uid = uid.upper()
        self._opened = self.kiosk.service.monotonic()
        self.query_one("#login-badge", Static).update(f"Badge {self.badge_uid}")
        self.query_one("#login-error", Static).update("")
        self.query_one("#pin", Input).value = ""

    def card_tapped(self, uid: str) -> bool:
        self.set_badge(uid)
        return True

    def on_input_changed(self, event: Input.Changed) -> None:
        self._opened = self.kiosk.service.monotonic()

    def _expire(self) -> None:
        if self.kiosk.service.monotonic() - self._opened > self.kiosk.login_timeout:
            self.dismiss_login()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._busy or not event.value:
            return
        self._busy = True
        uid, pin = self.badge_uid, event.value
        self.query_one("#login-error", Static).update("Checking...")
        self.call(lambda: self.kiosk.custody.sign_in(uid, pin), self._ok, self._refused)

    def _ok(self, identity: Identity) -> None:
        self._busy = False
        self.kiosk.signed_in(identity, self.badge_uid)

    def _refused(self, exc: Exception) -> None:
        self._busy = False
        if isinstance(exc, PinChangeRequired):  # after a reset or with an enrolment code
            from tui.screens.pin_change import PinChangeScreen

            self.app.switch_screen(
                PinChangeScreen(
                    "ticket",
                    name=f"Badge {self.badge_uid}",
                    ticket=exc.ticket,
                    badge_uid=self.badge_uid,
                    why=str(exc),
                )
            )
            return
        self.query_one("#login-error", Static).update(problem_text(exc))
        pin = self.query_one("#pin", Input)
        pin.value = ""
        pin.focus()

    def action_cancel(self) -> None:
        self.dismiss_login()

    def dismiss_login(self) -> None:
        if self.is_current:
            self.app.pop_screen()
