"""The UI must draw on the Pi's Linux console (tty1), whose font is a 256-glyph code page.

Why a test: Textual's defaults use half-block and eighth-block characters ("tall" borders,
scrollbars) that the console font lacks and shows as diamonds. Every screen is rendered and
every character checked against code page 437 (ASCII plus single and double box lines).
"""

from __future__ import annotations

import html
import re
from typing import Any

from tui_helpers import BEN, OFFICE, TECHNICIAN, run_async, screen_name, sign_in, tap, wait_for

CONSOLE_GLYPHS = set(bytes(range(32, 256)).decode("cp437")) | {"\xa0", "\n"}


def glyphs(app: Any) -> set[str]:
    svg = app.export_screenshot()
    text = "".join(html.unescape(t) for t in re.findall(r">([^<]*)</text>", svg))
    return set(text)


@run_async
async def test_every_screen_uses_console_glyphs_only(make_app: Any) -> None:
    app = make_app()
    seen: dict[str, set[str]] = {}
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        seen["idle"] = glyphs(app)
        await pilot.press("f2")
        await wait_for(pilot, lambda: screen_name(app) == "CardPicker")
        seen["card picker"] = glyphs(app)
        await pilot.press("escape")
        await sign_in(pilot, app, OFFICE)
        seen["home"] = glyphs(app)
        await tap(pilot, app, BEN)
        await wait_for(pilot, lambda: screen_name(app) == "ConfiscateScreen")
        seen["confiscate"] = glyphs(app)
        await pilot.press("escape", "escape", "r")
        await wait_for(pilot, lambda: screen_name(app) == "ReleaseScreen")
        await app.workers.wait_for_complete()
        await pilot.pause()
        seen["release"] = glyphs(app)
        await pilot.press("escape", "s")
        await wait_for(pilot, lambda: screen_name(app) == "HoldingsScreen")
        await app.workers.wait_for_complete()
        await pilot.pause()
        seen["holdings"] = glyphs(app)
        await pilot.press("escape", "l")
        await wait_for(pilot, lambda: len(app.screen.query(".locker")) == 12)
        seen["lockers"] = glyphs(app)
        await pilot.press("f3")
        await wait_for(pilot, lambda: screen_name(app) == "DoorPanel")
        await app.workers.wait_for_complete()
        await pilot.pause()
        seen["door panel"] = glyphs(app)
        await pilot.press("escape", "escape", "escape")
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        await sign_in(pilot, app, TECHNICIAN)
        await pilot.press("t")
        await wait_for(pilot, lambda: screen_name(app) == "TechnicianScreen")
        await app.workers.wait_for_complete()
        await pilot.pause()
        seen["technician"] = glyphs(app)
    bad = {name: sorted(chars - CONSOLE_GLYPHS) for name, chars in seen.items()}
    assert not any(bad.values()), bad
