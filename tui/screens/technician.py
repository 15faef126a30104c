"""Technician: hardware tests with no pupil data (DESIGN.md, Data protection).

What it shows comes from the hardware layer through the station: reader firmware/health,
each door sensor, occupancy sensors, and a test pulse on a locker that holds nothing. Locker
service states are changed through the ledger so the change is audited.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from kiosk.events import DoorState
from kiosk.views import LockerState, LockerView
from tui.screens.base import KioskScreen
from tui.widgets.text import Plain, plain

#: Reader lines, lockers, door sensors and occupancy sensors, read off the UI thread.
Reading = tuple[
    list[str],
    list[LockerView],
    dict[tuple[str, int], DoorState],
    dict[tuple[str, int], bool | None],
]


class TechnicianScreen(KioskScreen):
    HEADING = "Technician"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("o", "test_open", "Test open"),
        Binding("f", "mark_fault", "Mark fault"),
        Binding("v", "in_service", "Back in service"),
        Binding("r", "reload", "Re-test"),
    ]

    def compose_body(self) -> ComposeResult:
        with Vertical(id="tech-body"):
            yield Plain("Reading the hardware...", id="readers")
            yield DataTable(id="doors", cursor_type="row", zebra_stripes=False)
            yield Plain("", id="tech-result")

    def on_mount(self) -> None:
        table = self.query_one("#doors", DataTable)
        table.add_columns("Locker", "Record", "Door sensor", "Occupancy")
        table.focus()
        self.lockers: list[LockerView] = []
        self.action_reload()

    def action_reload(self) -> None:
        station = self.kiosk.station

        def read() -> Reading:
            readers = [
                f"Reader '{c.item.removeprefix('reader ').removesuffix(' version')}': {c.detail}"
                for c in station.reader_checks()
            ]
            lockers = station.custody.lockers()
            sensors = station.sensor_readings()
            doors = {(r.bank, r.number): r.door for r in sensors}
            occupied = {(r.bank, r.number): r.occupied for r in sensors}
            return readers, lockers, doors, occupied

        self.call(read, self._show)

    def _show(self, result: Reading) -> None:
        readers, lockers, doors, occupied = result
        lines = readers or ["No badge reader configured."]
        lines.append(f"Camera: {self.kiosk.station.hardware.camera.describe()}")
        self.query_one("#readers", Static).update("\n".join(lines))
        table = self.query_one("#doors", DataTable)
        keep = table.cursor_row
        table.clear()
        self.lockers = lockers
        for lk in lockers:
            door = doors.get((lk.bank, lk.number))
            occ = occupied.get((lk.bank, lk.number))
            cells = (
                lk.label,
                lk.state.replace("_", " "),
                door.value if door is not None else "no sensor",
                "no sensor" if occ is None else ("occupied" if occ else "empty"),
            )
            table.add_row(*(plain(c) for c in cells))
        if lockers:
            table.move_cursor(row=min(keep, len(lockers) - 1))

    def _selected(self) -> LockerView | None:
        if not self.lockers:
            return None
        return self.lockers[
            min(self.query_one("#doors", DataTable).cursor_row, len(self.lockers) - 1)
        ]

    def _say(self, text: str) -> None:
        self.query_one("#tech-result", Static).update(text)

    def action_test_open(self) -> None:
        lk = self._selected()
        if lk is None:
            return
        if lk.state is LockerState.OCCUPIED:
            self._say(f"{lk.label} holds phones: it is not opened for a test.")
            return
        station, who = self.kiosk.station, self.actor

        def pulse() -> str:
            return str(station.test_unlock(who, lk.bank, lk.number).value)

        self._say(f"Pulsing {lk.label}...")
        self.call(pulse, lambda outcome: self._tested(lk.label, outcome))

    def _tested(self, label: str, outcome: str) -> None:
        self._say(f"Test open {label}: {outcome.replace('_', ' ')}. Close the door after.")
        self.action_reload()

    def _set_service(self, fault: bool) -> None:
        lk = self._selected()
        if lk is None:
            return
        station, who = self.kiosk.station, self.actor

        def done(_result: None) -> None:
            self._say(f"{lk.label}: {'fault' if fault else 'in service'}.")
            self.action_reload()

        self.call(lambda: station.set_locker_service(who, lk.bank, lk.number, fault=fault), done)

    def action_mark_fault(self) -> None:
        self._set_service(fault=True)

    def action_in_service(self) -> None:
        self._set_service(fault=False)

    def action_back(self) -> None:
        self.app.pop_screen()
