"""Names from outside are drawn as text in the staff UI (issue 9, "Untrusted text is shown
as text"), and the console is not an exit ("The console is not an exit").

A pupil imported as ``[@click=app.quit]x[/]`` with ESC/CSI in the surname must appear
literally in the confiscate search, the release list and the home summary, with control
characters shown as ``\\xNN``, and nothing on screen may quit the app.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from textual.widgets import OptionList
from tui_helpers import (
    BEN,
    HARRY,
    OFFICE,
    SENIOR,
    TECHNICIAN,
    close_door_when_open,
    open_exam_screen,
    run_async,
    screen_name,
    sign_in,
    start_self_service,
    tap,
    text_of,
    wait_for,
)

from db.models import Pupil

GIVEN = "[@click=app.quit]x[/]"
FAMILY = "Hughes[b]bold\x1b[2J\x9b31m"
LITERAL_FAMILY = "Hughes[b]bold\\x1b[2J\\x9b31m"


def _rename_ben(app: Any) -> None:
    with app.station.ctx.sessions.begin() as s:
        s.execute(
            update(Pupil)
            .where(Pupil.given_name == "Ben")
            .values(given_name=GIVEN, family_name=FAMILY)
        )


def _watch_exits(app: Any) -> list[Any]:
    exits: list[Any] = []
    app.exit = lambda *a, **k: exits.append(a)
    return exits


def _options(app: Any, selector: str) -> list[str]:
    menu = app.screen.query_one(selector, OptionList)
    return [str(menu.get_option_at_index(i).prompt) for i in range(menu.option_count)]


def _assert_literal(text: str) -> None:
    assert GIVEN in text, text
    assert LITERAL_FAMILY in text, text
    assert "\x1b" not in text and "\x9b" not in text


@run_async
async def test_hostile_name_in_confiscate_search_is_literal(make_app: Any) -> None:
    app = make_app()
    _rename_ben(app)
    exits = _watch_exits(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await pilot.press("c")
        await wait_for(pilot, lambda: screen_name(app) == "ConfiscateScreen")
        await pilot.press(*"hughes", "enter")

        # One match is chosen at once (shown on "#who"); several are listed in "#results".
        def found() -> str:
            return text_of(app, "#who") + " ".join(_options(app, "#results"))

        await wait_for(pilot, lambda: "Hughes[b]" in found(), what="the hostile name")
        _assert_literal(found())
        for y in range(2):
            await pilot.click("#who", offset=(8 + y, 0))
        await pilot.pause()
        assert exits == []


@run_async
async def test_hostile_name_in_release_and_home_is_literal(make_app: Any) -> None:
    app = make_app()
    _rename_ben(app)
    exits = _watch_exits(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, app, SENIOR)
        await pilot.press("r")
        await wait_for(pilot, lambda: screen_name(app) == "ReleaseScreen")
        menus = app.screen.query(OptionList)
        await wait_for(
            pilot,
            lambda: any(
                "Hughes[b]" in str(m.get_option_at_index(i).prompt)
                for m in menus
                for i in range(m.option_count)
            ),
            what="the hostile name in the release list",
        )
        shown = " ".join(
            str(m.get_option_at_index(i).prompt) for m in menus for i in range(m.option_count)
        )
        _assert_literal(shown)
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "HomeScreen")
        # A card tap on Home starts a confiscation naming the pupil: plain text too.
        await tap(pilot, app, BEN)
        await wait_for(pilot, lambda: screen_name(app) == "ConfiscateScreen")
        await wait_for(pilot, lambda: "Hughes[b]" in text_of(app, "#who"))
        _assert_literal(text_of(app, "#who"))
        assert exits == []


@run_async
async def test_ctrl_q_needs_a_technician_or_senior(make_app: Any) -> None:
    app = make_app()
    exits = _watch_exits(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert exits == [], "nobody signed in, yet Ctrl+Q quit"
        assert any("technician or senior" in str(n.message) for n in app._notifications)
        await sign_in(pilot, app, OFFICE)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert exits == [], "office staff quit the console"
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        await sign_in(pilot, app, TECHNICIAN)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: bool(exits), what="the technician's quit")


@run_async
async def test_demo_quits_with_one_key(make_app: Any) -> None:
    app = make_app(demo=True)
    exits = _watch_exits(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: bool(exits), what="the demo's quit")


@run_async
async def test_self_service_shows_no_register(make_app: Any) -> None:
    """With nobody signed in only the candidate's own pouch is shown, after their tap."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_exam_screen(pilot, app)
        await start_self_service(pilot, app)
        assert app.identity is None
        assert not app.screen.query("DataTable"), "the register is on the self-service screen"
        names = ["Chloe", "Ella", "Finn", "Grace", "Harry", "Isla"]
        before = _screen_words(app)
        assert not [n for n in names if n in before], before
        await tap(pilot, app, HARRY)
        await wait_for(pilot, lambda: "POUCH" in text_of(app, "#exam-result"))
        after = _screen_words(app)
        assert "Harry" in after
        assert not [n for n in names if n != "Harry" and n in after], after
        await close_door_when_open(pilot, app, "B", 4)
        await wait_for(pilot, lambda: "Thank you, Harry" in text_of(app, "#exam-result"))
        assert not [n for n in names if n != "Harry" and n in _screen_words(app)]


def _screen_words(app: Any) -> str:
    return " ".join(str(w.render()) for w in app.screen.query("Static"))


@run_async
async def test_hostile_name_in_amnesty_and_its_receipt_is_literal(make_app: Any) -> None:
    """The new screens of issue 14 (voluntary hand-in, receipt) draw the name as text too."""
    from textual.css.query import NoMatches

    def receipt() -> str:
        try:
            return text_of(app, "#receipt")
        except NoMatches:
            return ""

    app = make_app()
    _rename_ben(app)
    exits = _watch_exits(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await pilot.press("v")
        await wait_for(pilot, lambda: screen_name(app) == "AmnestyScreen")
        await tap(pilot, app, BEN)
        await wait_for(pilot, lambda: "Hughes[b]" in text_of(app, "#who"), what="the name")
        _assert_literal(text_of(app, "#who"))
        await wait_for(pilot, lambda: app.screen.query_one("#reasons").option_count > 0)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.job is not None and app.job.holding is not None)
        holding = app.job.holding
        await close_door_when_open(pilot, app, holding.locker_bank, holding.locker_number)
        await wait_for(pilot, lambda: screen_name(app) == "ReceiptScreen", what="receipt")
        await wait_for(pilot, lambda: "Hughes[b]" in receipt(), what="the slip")
        _assert_literal(receipt())
        assert exits == []
