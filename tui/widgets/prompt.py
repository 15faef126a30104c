"""A small modal that asks for one line of text (a reason, a police reference).

Written reasons are required by policy for holds, searches and overrides; a modal keeps the
question next to the action that needs it and returns None when the person backs out.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tui.widgets.text import Plain


class TextPrompt(ModalScreen[str | None]):
    """Enter submits (if long enough), Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, *, placeholder: str = "", min_chars: int = 1) -> None:
        super().__init__()
        self.question = question
        self.placeholder = placeholder
        self.min_chars = min_chars

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Plain(self.question, id="prompt-question")
            yield Input(placeholder=self.placeholder, id="prompt-input")
            yield Plain("Enter to confirm, Esc to cancel", id="prompt-help")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if len(text) < self.min_chars:
            self.query_one("#prompt-help", Static).update(
                f"Write at least {self.min_chars} characters."
            )
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
