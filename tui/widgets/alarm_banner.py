"""The red band at the top of every screen: forced/left-open doors, reader and sensor faults.

Why on every screen, idle included: a door forced at lunchtime with nobody signed in must be
the first thing the next person at the hatch sees.
"""

from __future__ import annotations

from collections.abc import Mapping

from tui.widgets.text import Plain


class AlarmBanner(Plain):
    """Shows the app's current alarms; hidden when there are none."""

    def show(self, alarms: Mapping[str, str]) -> None:
        lines = list(alarms.values())
        if len(lines) > 3:
            lines = [*lines[:2], f"... and {len(lines) - 2} more alarms"]
        self.update("\n".join(lines))
        self.display = bool(lines)

    def on_mount(self) -> None:
        self.show(getattr(self.app, "alarms", {}))
