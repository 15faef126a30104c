"""The pupil search (tui/widgets/pupil_search.py) as the confiscation and the voluntary
hand-in use it: several matches are listed and one is picked, no match is said in words.

Why here: the flow tests reach the pupil by card or by a name that matches once; the list
and the empty answer are the widget's other two paths, the same on both screens.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update
from textual.widgets import Input, OptionList
from tui_helpers import OFFICE, run_async, screen_name, sign_in, text_of, wait_for

from db.models import Pupil


def _options(app: Any) -> list[str]:
    menu = app.screen.query_one("#results", OptionList)
    return [str(menu.get_option_at_index(i).prompt) for i in range(menu.option_count)]


@pytest.mark.parametrize(
    ("key", "screen", "after"),
    [("c", "ConfiscateScreen", "categories"), ("v", "AmnestyScreen", "reasons")],
)
@run_async
async def test_several_matches_are_listed_and_none_is_said(
    make_app: Any, key: str, screen: str, after: str
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await pilot.press(key)
        await wait_for(pilot, lambda: screen_name(app) == screen)
        # Tutor group 11A is Ella Nowak and Finn O'Brien in the demo school (by surname).
        await pilot.press(*"11a", "enter")
        await wait_for(pilot, lambda: len(_options(app)) == 2, what="two matches listed")
        assert _options(app) == ["Ella Nowak  11A  (year 11)", "Finn O'Brien  11A  (year 11)"]
        assert app.screen.focused is app.screen.query_one("#results", OptionList)
        await pilot.press("down", "enter")
        await wait_for(
            pilot,
            lambda: app.screen.focused is not None and app.screen.focused.id == after,
            what=f"the {after} step",
        )
        assert "Finn O'Brien" in text_of(app, "#who")

        await pilot.press("escape")
        search = app.screen.query_one("#search", Input)
        await wait_for(pilot, lambda: app.screen.focused is search, what="back at the search")
        search.value = ""
        await pilot.press(*"nobody", "enter")
        await wait_for(
            pilot, lambda: "No pupil matches" in text_of(app, "#form-error"), what="no match"
        )
        assert _options(app) == []
        assert screen_name(app) == screen


@pytest.mark.parametrize(("key", "screen"), [("c", "ConfiscateScreen"), ("v", "AmnestyScreen")])
@run_async
async def test_a_hostile_name_in_the_list_of_matches_is_literal(
    make_app: Any, key: str, screen: str
) -> None:
    """The list path with a name from the MIS holding markup and terminal controls (issue 9,
    "Untrusted text is shown as text"): tests/tui/test_untrusted_text.py reaches only the
    one-match path, on the confiscation only."""
    app = make_app()
    with app.station.ctx.sessions.begin() as s:
        s.execute(
            update(Pupil)
            .where(Pupil.given_name == "Ben")
            .values(
                given_name="[@click=app.quit]x[/]", family_name="A[b]\x1b[2J", tutor_group="11A"
            )
        )
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await pilot.press(key)
        await wait_for(pilot, lambda: screen_name(app) == screen)
        await pilot.press(*"11a", "enter")
        await wait_for(pilot, lambda: len(_options(app)) == 3, what="three matches listed")
        assert "[@click=app.quit]x[/] A[b]\\x1b[2J  11A  (year 9)" in _options(app)
