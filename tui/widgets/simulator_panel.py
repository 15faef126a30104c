"""The simulator panel (``kiosk demo`` / ``kiosk run --simulate`` only).

A newcomer has no cards and no lockers, so the panel stands in for them: F2 "taps" a demo
staff badge or pupil card on the reader, F3 opens, closes, forces or jams a door. It drives
the simulator object the station was built with; the events then travel the real path
(reader thread -> station -> message), so the demo exercises the same code as the Pi.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static

from kiosk.runtime import DemoCard, demo_cards
from kiosk.simulator_port import SimulatorPort
from tui.widgets.text import Plain, option


class SimulatorStrip(Plain):
    """One line at the bottom of each screen saying the simulator is there and how to use it."""

    def on_mount(self) -> None:
        self.update("SIMULATOR  F2 tap a card or badge   F3 open/close/force/jam a door")


class CardPicker(ModalScreen[None]):
    """Type to filter, Enter taps the highlighted card on the desk reader."""

    BINDINGS = [Binding("escape", "dismiss_picker", "Close")]

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[DemoCard] = demo_cards()

    def compose(self) -> ComposeResult:
        with Vertical(id="sim-box"):
            yield Plain(
                "Simulator: tap a card (type to filter or a card number, Enter taps, Esc closes)"
            )
            yield Input(placeholder="name, role or card number", id="sim-filter")
            yield OptionList(id="sim-cards")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, text: str) -> None:
        words = text.lower().split()
        shown = [
            option(f"{'Staff' if c.kind == 'staff' else 'Pupil'}  {c.uid}  {c.label}", id=c.uid)
            for c in self.cards
            if all(w in f"{c.uid} {c.label} {c.kind}".lower() for w in words)
        ]
        menu = self.query_one(OptionList)
        menu.clear_options()
        menu.add_options(shown)
        if shown:
            menu.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        menu = self.query_one(OptionList)
        if menu.highlighted is not None:
            self._tap(menu.get_option_at_index(menu.highlighted).id)
        elif _is_uid(event.value):
            self._tap(event.value.strip().upper())  # any card number, for a non-demo school

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._tap(event.option.id)

    def on_key(self, event: Any) -> None:
        # Up/down move through the list while the filter keeps the focus.
        menu = self.query_one(OptionList)
        if event.key in ("down", "up") and self.focused is self.query_one(Input):
            event.stop()
            if event.key == "down":
                menu.action_cursor_down()
            else:
                menu.action_cursor_up()

    def _tap(self, uid: str | None) -> None:
        if uid is None:
            return
        self.dismiss(None)
        tap_card(self.app, uid)

    def action_dismiss_picker(self) -> None:
        self.dismiss(None)


def _sim(app: App[object]) -> SimulatorPort:
    """The station's simulator port (the panel only exists when there is one)."""
    sim: SimulatorPort | None = getattr(app, "simulator", None)
    if sim is None:
        raise RuntimeError("no simulator: the panel is only shown on simulated hardware")
    return sim


def tap_card(app: App[object], uid: str) -> None:
    """Tap the card on the simulated reader through the station's simulator port (blocks until
    the reader has reported it and forgotten it, so it runs in a worker)."""
    sim = _sim(app)
    app.run_worker(lambda: sim.tap(uid), thread=True, group="sim", exit_on_error=False)


def _is_uid(text: str) -> bool:
    text = text.strip()
    return len(text) in (8, 10, 14) and all(c in "0123456789abcdefABCDEF" for c in text)


class DoorPanel(ModalScreen[None]):
    """Doors with their sensor state; open doors first so "close the door" is one Enter.

    A door that opens while the panel is up (the station pulsed its lock) takes the
    highlight in the same update that shows it open: whoever sees "B4 open" and presses
    Enter closes B4, not the row the cursor was on before the list was re-ordered.
    """

    BINDINGS = [
        Binding("escape", "dismiss_panel", "Close"),
        Binding("enter", "toggle_door", "Open/close", show=False),
        Binding("f", "force", "Force open"),
        Binding("j", "jam", "Jam/unjam"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.states: dict[tuple[str, int], str] = {}
        self._shown: object = None
        self._open: set[tuple[str, int]] = set()

    def compose(self) -> ComposeResult:
        with Vertical(id="sim-box"):
            yield Plain(
                "Simulator doors: Enter open/close, f force open (alarm), j jam, Esc closes"
            )
            yield OptionList(id="sim-doors")
            yield Plain("", id="sim-door-note")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._read()
        self.set_interval(0.5, self._read)

    @work(thread=True, group="sim-doors", exclusive=True, exit_on_error=False)
    def _read(self) -> None:
        states = {k: v.value for k, v in _sim(self.app).door_states().items()}
        self.app.call_from_thread(self._show, states)

    def _show(self, states: dict[tuple[str, int], str]) -> None:
        jammed = _sim(self.app).jammed
        shown = (tuple(sorted(states.items())), frozenset(jammed))
        if shown == self._shown:
            return
        self._shown = shown
        self.states = states
        order = sorted(states, key=lambda k: (states[k] != "open", k))
        menu = self.query_one(OptionList)
        keep = menu.highlighted_option.id if menu.highlighted_option is not None else None
        menu.clear_options()
        menu.add_options(
            [
                option(
                    f"{bank}{n:<3} {states[(bank, n)]:<8}"
                    + ("  jammed" if (bank, n) in jammed else ""),
                    id=f"{bank}:{n}",
                )
                for bank, n in order
            ]
        )
        ids = [f"{b}:{n}" for b, n in order]
        opened = [k for k in order if states[k] == "open" and k not in self._open]
        self._open = {k for k in order if states[k] == "open"}
        if opened:
            keep = f"{opened[0][0]}:{opened[0][1]}"
        menu.highlighted = ids.index(keep) if keep in ids else 0

    def _selected(self) -> tuple[str, int] | None:
        option = self.query_one(OptionList).highlighted_option
        if option is None or option.id is None:
            return None
        bank, number = option.id.split(":")
        return bank, int(number)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_toggle_door()

    def _do(self, verb: str) -> None:
        door = self._selected()
        if door is None:
            return
        sim = _sim(self.app)
        bank, number = door
        state = self.states.get(door)
        if verb == "toggle":
            if state == "open":
                sim.close_door(bank, number)
                note = f"Closed {bank}{number}."
            else:
                sim.open_door(bank, number)
                note = f"Opened {bank}{number} (an alarm if it was locked)."
        elif verb == "force":
            sim.force_open(bank, number)
            note = f"Forced {bank}{number} open."
        else:
            jam = door not in sim.jammed
            sim.jam(bank, number, jam)
            note = f"{bank}{number} {'jammed' if jam else 'unjammed'}."
        self.query_one("#sim-door-note", Static).update(note)
        self._read()

    def action_toggle_door(self) -> None:
        self._do("toggle")

    def action_force(self) -> None:
        self._do("force")

    def action_jam(self) -> None:
        self._do("jam")

    def action_dismiss_panel(self) -> None:
        self.dismiss(None)
