"""The locker grid: each locker's record state and what its door sensor says now.

Locker states carry no pupil data, so the grid is safe for every role, the technician too.
Why both columns of truth: "occupied" is the ledger, "open" is the sensor; staff must see
when the two disagree (a door open on an occupied locker is the thing to walk over to).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid

from kiosk.events import DoorState
from kiosk.views import LockerState, LockerView
from tui.messages import HardwareNews
from tui.screens.base import KioskScreen
from tui.widgets.text import Plain

#: At 80 columns a cell has 8 characters inside its border.
STATE_WORDS = {LockerState.OUT_OF_SERVICE: "disabled"}


class LockerCell(Plain):
    """One locker: label, record state, door state."""

    def show(self, locker: LockerView, door: str) -> None:
        state = STATE_WORDS.get(locker.state, locker.state)
        cap = f" x{locker.capacity}" if locker.capacity > 1 else ""
        self.update(f"{locker.label}{cap}\n{state}\n{door.upper() if door == 'open' else door}")
        for cls in ("free", "occupied", "fault", "out_of_service", "door-open", "door-unknown"):
            self.remove_class(cls)
        self.add_class(locker.state)
        if door in ("open", "unknown"):
            self.add_class(f"door-{door}")


class LockersScreen(KioskScreen):
    HEADING = "Lockers"
    BINDINGS = [Binding("escape", "back", "Back")]

    def compose_body(self) -> ComposeResult:
        yield Grid(id="locker-grid")
        yield Plain(
            "Record: free / occupied / fault / disabled.  Door: as its sensor reads now.",
            id="legend",
        )

    def on_mount(self) -> None:
        self._cells: dict[str, LockerCell] = {}
        self.reload()
        self.set_interval(2.0, self.reload)

    def reload(self) -> None:
        station = self.kiosk.station

        def read() -> tuple[list[LockerView], dict[tuple[str, int], DoorState]]:
            return station.custody.lockers(), station.door_states()

        self.call(read, self._show)

    def _show(self, result: tuple[list[LockerView], dict[tuple[str, int], DoorState]]) -> None:
        lockers, doors = result
        grid = self.query_one("#locker-grid", Grid)
        for locker in lockers:
            cell = self._cells.get(locker.label)
            if cell is None:
                cell = LockerCell(classes="locker")
                self._cells[locker.label] = cell
                grid.mount(cell)
            door = doors.get((locker.bank, locker.number))
            cell.show(locker, door.value if door is not None else "unknown")

    def on_hardware_news(self, message: HardwareNews) -> None:
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()
