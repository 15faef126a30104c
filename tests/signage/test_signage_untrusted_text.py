"""Exam names from outside are drawn as text on the signage screen (issue 9).

A session named ``[@click=app.quit]x[/]`` used to render as a clickable quit; ESC/CSI in a
name reached the terminal. The screen must show them literally and stay up when clicked.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import policies
from kiosk.signage import notices_for
from kiosk.views import ExamSessionState, ExamSessionView
from tui.signage import SignageApp

START = datetime(2026, 11, 17, 13, 30, tzinfo=UTC)
SESSION = ExamSessionView(
    id=1,
    name="GCSE English",
    room="Sports hall",
    starts_at=START,
    ends_at=START + timedelta(minutes=105),
    state=ExamSessionState.OPEN,
)
PROFILE = policies.load_profile("pioneer-trust")


def fixed(now: datetime, sessions: list[ExamSessionView]) -> Any:
    return lambda: notices_for(PROFILE, list(sessions), now, ZoneInfo("Europe/London"))


HOSTILE = "[@click=app.quit]x[/] [b]bold \x1b[2J\x9b31m"


def test_hostile_exam_name_is_shown_literally_and_cannot_quit() -> None:
    asyncio.run(_hostile_exam_name())


async def _hostile_exam_name() -> None:
    session = dataclasses.replace(SESSION, name=HOSTILE)
    app = SignageApp(fixed(START + timedelta(minutes=5), [session]), interval=0, refresh_every=0)
    exits: list[Any] = []
    app.exit = lambda *a, **k: exits.append(a)  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = " ".join(str(app.query_one(f"#{w}").render()) for w in ("sign-title", "sign-text"))
        assert "[@click=app.quit]x[/]" in shown
        assert "[b]bold" in shown
        assert "\\x1b[2J" in shown and "\\x9b31m" in shown
        assert "\x1b" not in shown and "\x9b" not in shown
        title = app.query_one("#sign-title")
        for x in range(0, min(10, title.size.width)):
            await pilot.click("#sign-title", offset=(x, 0))
        await pilot.pause()
        assert exits == [], "a click on the exam name ran app.quit"
