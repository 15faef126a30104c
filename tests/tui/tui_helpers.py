"""Helpers for the staff UI tests: clocks, badges, cards, and waiting on a live app.

Why waiting helpers rather than fixed sleeps: card taps travel through the real reader
thread and doors through the real door monitor, so the time they take varies; tests wait
for what the person at the hatch would see.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tui.app import KioskApp

LONDON = ZoneInfo("Europe/London")
#: A Wednesday in the spring term, after the end of the school day (release allowed).
AFTERNOON = datetime(2026, 3, 11, 16, 0, tzinfo=LONDON).astimezone(UTC)
MORNING = datetime(2026, 3, 11, 11, 0, tzinfo=LONDON).astimezone(UTC)

OFFICE = ("AB000001", "3917")
DSL = ("AB000002", "472915")
SENIOR = ("AB000003", "815274")
EXAMS = ("AB000004", "5082")
TEACHER = ("AB000005", "6294")
TECHNICIAN = ("AB000006", "7403")
AMARA, BEN, CHLOE, DYLAN, HARRY = "04A1B2C3", "04A1B2C4", "04A1B2C5", "04A1B2C6", "04A1B2CA"


@dataclass
class Clock:
    """The ledger's clock; tests move it (``clock.now = MORNING``)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


def run_async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an ``async def`` test in its own event loop (no pytest-asyncio in this project)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    wrapper.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    return wrapper


async def wait_for(
    pilot: Any, condition: Callable[[], object], timeout: float = 5.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` is true (workers and hardware threads are real)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)


async def tap(pilot: Any, app: KioskApp, uid: str) -> None:
    """Present a card on the simulated reader, then take it away again."""
    assert app.simulator is not None
    app.simulator.tap(uid)
    await pilot.pause(0.35)
    app.simulator.remove_card()
    await pilot.pause(0.15)


def screen_name(app: KioskApp) -> str:
    return type(app.screen).__name__


def text_of(app: KioskApp, selector: str) -> str:
    """Plain text of a Static on the current screen."""
    return str(app.screen.query_one(selector).render())


async def sign_in(pilot: Any, app: KioskApp, badge: tuple[str, str]) -> None:
    """Badge tap + PIN: the two inputs before every count in the issue."""
    await wait_for(pilot, lambda: screen_name(app) == "IdleScreen", what="idle screen")
    await tap(pilot, app, badge[0])
    await wait_for(pilot, lambda: screen_name(app) == "LoginScreen", what="PIN screen")
    await pilot.press(*badge[1], "enter")
    await wait_for(pilot, lambda: screen_name(app) == "HomeScreen", what="home screen")


async def close_door_when_open(pilot: Any, app: KioskApp, bank: str, number: int) -> None:
    """The person at the hatch closes the locker door once the lock has popped it open."""
    station = app.station
    await wait_for(
        pilot,
        lambda: station.door_states()[(bank, number)].value == "open",
        what=f"door {bank}{number} to open",
    )
    assert app.simulator is not None
    app.simulator.close_door(bank, number)


async def open_exam_screen(pilot: Any, app: KioskApp) -> None:
    """The exams officer signs in and opens today's session (3 of 6 deposited in the demo)."""
    await sign_in(pilot, app, EXAMS)
    await pilot.press("e")
    await wait_for(pilot, lambda: screen_name(app) == "ExamScreen")
    await wait_for(pilot, lambda: "3 of 6 deposited" in text_of(app, "#exam-status"))
