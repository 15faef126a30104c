"""Messages that carry hardware news into the UI.

Hardware events arrive on the station's thread; they enter Textual only as these messages
(``post_message`` is thread-safe), so no widget is ever touched from a hardware thread.
"""

from __future__ import annotations

from textual.message import Message


class HardwareEvent(Message):
    """One event from :mod:`kiosk.events` (BadgeTapped, ForcedOpen, DoorClosed, ...)."""

    def __init__(self, event: object) -> None:
        super().__init__()
        self.event = event


class StationStarted(Message):
    """The station is up; ``reconcile`` lists holdings a crash left half-way."""

    def __init__(self, reconcile: list[object], error: str | None = None) -> None:
        super().__init__()
        self.reconcile = reconcile
        self.error = error
