"""Find a pupil by typing: the first step of the confiscation and the voluntary hand-in.

Why one widget: the search (type a name or tutor group + Enter, one match is taken at once,
several are listed to pick from) was written out in each screen that starts from a pupil.
Messages up, attributes down: the widget asks its screen to look the words up (:class:`Find`,
the screen owns the use-case call and its worker), is handed the matches (:meth:`show`), and
says which pupil was chosen (:class:`PupilChosen`); what happens next is the screen's. A card
tap never reaches the widget: the app gives it to the screen (``TakesPupils``).

Names come from the MIS, so every line is built with :func:`~tui.widgets.text.option`
(shown as text, never markup).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList

from tui.widgets.text import Plain, option

if TYPE_CHECKING:  # annotations only: no ledger import before the first frame (issue 15)
    from kiosk.views import PupilView


class PupilSearch(Vertical):
    """The prompt, ``#search`` (typed words) and ``#results`` (the matches to pick from)."""

    class Find(Message):
        """Staff typed ``text`` and pressed Enter: look it up and call :meth:`show`."""

        def __init__(self, search: PupilSearch, text: str) -> None:
            super().__init__()
            self.search = search
            self.text = text

        @property
        def control(self) -> PupilSearch:
            return self.search

    class PupilChosen(Message):
        """``pupil`` was picked from the matches (or was the only one)."""

        def __init__(self, search: PupilSearch, pupil: PupilView) -> None:
            super().__init__()
            self.search = search
            self.pupil = pupil

        @property
        def control(self) -> PupilSearch:
            return self.search

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._found: list[PupilView] = []

    def compose(self) -> ComposeResult:
        yield Plain("Tap the pupil's card, or type a name or tutor group + Enter")
        yield Input(placeholder="e.g. hughes, 9C", id="search")
        yield OptionList(id="results")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if text:
            self.post_message(self.Find(self, text))

    def show(self, pupils: Sequence[PupilView]) -> None:
        """The matches for the words typed: one is chosen at once, several are listed (the
        first highlighted), none leaves the list empty (the screen says so)."""
        if len(pupils) == 1:
            self.post_message(self.PupilChosen(self, pupils[0]))
            return
        self._found = list(pupils)
        menu = self.query_one("#results", OptionList)
        menu.clear_options()
        menu.add_options(
            [
                option(f"{p.name}  {p.tutor_group}  (year {p.year_group})", id=str(i))
                for i, p in enumerate(pupils)
            ]
        )
        if pupils:
            menu.highlighted = 0
            menu.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.PupilChosen(self, self._found[event.option_index]))
