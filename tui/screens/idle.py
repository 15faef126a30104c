"""The idle screen: the station's public signage and "tap your badge".

It is also where a lock explains itself ("locked after 90 s; a confiscation in progress was
not saved") and where holdings a crash left half-way are listed, so the next person sees them.
It faces the public: notes name work by holding number and locker, never a pupil.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from kiosk.signage import SignageFeed
from tui.screens.base import KioskScreen
from tui.signage import SignageView
from tui.widgets.text import Plain


def signage_widget(screen: KioskScreen) -> Widget:
    """The station's public signage (zones, rules, exam notices), rotating."""
    feed = SignageFeed.for_context(screen.kiosk.station.ctx)
    return SignageView(feed, compact=True, id="signage")


class IdleScreen(KioskScreen):
    """Nobody signed in. Any card tapped here is taken as a staff badge."""

    def compose_body(self) -> ComposeResult:
        with Vertical(id="idle-body"):
            yield signage_widget(self)
            yield Plain("Staff: tap your badge to sign in", id="tap-prompt")
            yield Plain("", id="idle-notes")
            if self.kiosk.simulator is not None:
                yield Plain(demo_hint(self.kiosk.config.station.id), id="demo-hint")

    def on_mount(self) -> None:
        self.refresh_notes()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.refresh_notes()

    def refresh_notes(self) -> None:
        """Lock notes and start-up reconciliation items, newest first."""
        if not self.is_mounted:
            return
        lines = list(self.kiosk.idle_notes)
        for item in self.kiosk.reconcile:
            h = item.holding
            lines.append(
                f"Unfinished after restart: #{h.id} {h.kind} {h.state} in {h.locker}, door "
                f"{item.door.value}. {item.advice} (Holdings screen)"
            )
        found = self.query("#idle-notes").results(Static)
        notes = next(found, None)
        if notes is None:  # composing, or being torn down at exit
            return
        notes.update("\n".join(lines))
        notes.display = bool(lines)


def demo_hint(station_id: str) -> str:
    """Printed badges for the demo school; a simulated real school only gets the F2 hint."""
    from kiosk.demo import DEMO_BADGES, demo_config

    if station_id != demo_config(Path(".")).station.id:
        return "Simulated hardware: press F2 to tap a card on the reader."
    badges = "  ".join(f"{role} {uid}/{pin}" for role, (uid, pin) in DEMO_BADGES.items())
    return f"Demo badges (UID/PIN): {badges}\nPress F2 to tap a card on the reader."
