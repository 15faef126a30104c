"""The one piece of work in progress at the hatch, so a lock can undo it.

Why the app (not the screen) owns it: a lock pops every screen, yet a holding committed as
``depositing``/``releasing`` must still be rolled back or confirmed, and a door worker that is
waiting for a door keeps running after the screen that started it is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Task:
    """``what`` names the work in words for the idle screen ("Confiscation for Ben Hughes")."""

    what: str
    kind: str  # "deposit" | "release" | "exam_deposit"
    holding: Any | None = None  # kiosk.views.HoldingView once committed
    door_running: bool = False
    lock_pending: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def committed(self) -> bool:
        return self.holding is not None
