"""The first frame of ``kiosk run``: the locked station, while it opens (issue 15).

Why a screen of its own: opening the station (SQLAlchemy, the ledger's quick check, the
reconciliation of half-done holdings, GPIO and the card reader) took most of the 2.3-2.7 s
to first paint. The app paints this screen first, with Textual and the config only, and
opens the station in a thread after the first frame; the idle screen (signage, "tap your
badge") replaces it when the station is ready. Nothing here reads the ledger or takes a
card: no tap can reach the station before it is open, so nothing is unlocked early.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static


class StartingScreen(Screen[None]):
    """Locked; the station is opening. Plain Textual: no kiosk module is imported."""

    def __init__(self, station_id: str) -> None:
        super().__init__()
        self.station_id = station_id

    def compose(self) -> ComposeResult:
        yield Static(
            f"Device Amnesty Kiosk: {self.station_id}\n\n"
            "Locked. Starting the station (ledger, doors, card reader)...",
            id="starting",
            markup=False,
        )
