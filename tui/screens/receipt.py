"""The receipt on screen, with a Print key (issue 14, "Receipts").

What is shown is exactly the text :func:`kiosk.receipts.render_text` makes from the
``receipt_slip`` use-case, and Print sends the same slip through
:meth:`kiosk.station.Station.print_receipt` (python-escpos). The screen adds nothing to it: a
slip for a holding under safeguarding or of the indecent-images category comes without
collectors or a release time (the renderer decides, seed 001 appendix §28), and this screen
must not put them back, so it shows no collector, time or contact of its own.

Names and device descriptions in the slip are untrusted text: shown through
:class:`~tui.widgets.text.Plain` (no markup, controls escaped).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll

from kiosk.receipts import Slip, render_text
from tui.screens.base import KioskScreen
from tui.widgets.text import Plain


class ReceiptPanel(Plain):
    """The slip as text, as the renderer gives it (the width of an 80 mm slip)."""

    slip: Slip | None = None

    def show(self, slip: Slip) -> None:
        self.slip = slip
        self.update(render_text(slip).rstrip("\n"))


def print_receipt(screen: KioskScreen, holding_id: int) -> None:
    """Print ``holding_id``'s receipt in a worker; say how it went in a toast."""
    who, station = screen.actor, screen.kiosk.station

    def printed(slip: Slip) -> None:
        where = station.printer.describe() if station.printer is not None else "the printer"
        screen.notify(f"Receipt no {slip.holding_id} printed on {where}.")

    screen.notify("Printing the receipt...")
    screen.call(lambda: station.print_receipt(who, holding_id), printed)


class ReceiptScreen(KioskScreen):
    """The receipt of one holding after a deposit or a hand-back: ``p`` prints, Enter done."""

    HEADING = "Receipt"
    BINDINGS = [
        Binding("p", "print", "Print"),
        Binding("enter", "done", "Done"),
        Binding("escape", "done", "Done", show=False),
    ]

    def __init__(self, holding_id: int, note: str = "") -> None:
        super().__init__()
        self.holding_id = holding_id
        self.note = note

    #: Focus the slip (it scrolls on a small screen); set here, not by a query in on_mount,
    #: which may run before the nested widgets are mounted.
    AUTO_FOCUS = "#receipt-scroll"

    def compose_body(self) -> ComposeResult:
        with Vertical(id="receipt-body"):
            note = Plain(self.note, id="receipt-note")
            note.display = bool(self.note)
            yield note
            with VerticalScroll(id="receipt-scroll"):
                yield ReceiptPanel("", id="receipt")
            yield Plain("p: print the receipt   Enter: done", id="receipt-hint")

    def on_mount(self) -> None:
        who, holding_id = self.actor, self.holding_id
        self.call(lambda: self.kiosk.custody.receipt_slip(who, holding_id), self._show)

    def _show(self, slip: Slip) -> None:
        self.query_one("#receipt", ReceiptPanel).show(slip)

    def action_print(self) -> None:
        print_receipt(self, self.holding_id)

    def action_done(self) -> None:
        self.app.pop_screen()
