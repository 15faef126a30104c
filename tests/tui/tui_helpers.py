"""Helpers for the staff UI tests: clocks, badges, cards, and waiting on a live app.

Why waiting helpers rather than fixed sleeps: card taps travel through the real reader
thread and doors through the real door monitor, so the time they take varies; tests wait
for what the person at the hatch would see (the timeout is a failure bound only). Time that
rules depend on (door timeouts, auto-lock) passes only when a test moves the
:class:`Ticker`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
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


class Ticker:
    """A monotonic clock the test moves by hand (``ticker.advance(1.0)``); thread-safe."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def run_async(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an ``async def`` test in its own event loop (no pytest-asyncio in this project)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    wrapper.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    return wrapper


async def wait_for(
    pilot: Any, condition: Callable[[], object], timeout: float = 20.0, what: str = ""
) -> None:
    """Let the app run until ``condition()`` is true (workers and hardware threads are real).

    ``timeout`` is generous: it only bounds a failure, it never decides an outcome.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)


async def tap(pilot: Any, app: KioskApp, uid: str) -> None:
    """Tap a card on the simulated reader: returns once the app has the tap in its queue."""
    assert app.simulator is not None
    assert await asyncio.to_thread(app.simulator.tap, uid), f"card {uid} was not read"
    await pilot.pause()


def screen_name(app: KioskApp) -> str:
    return type(app.screen).__name__


def text_of(app: KioskApp, selector: str) -> str:
    """Plain text of a Static on the current screen."""
    return str(app.screen.query_one(selector).render())


async def sign_in(pilot: Any, app: KioskApp, badge: tuple[str, str]) -> None:
    """Badge tap + PIN: the two inputs before every count in the issue."""
    await wait_for(pilot, lambda: screen_name(app) == "IdleScreen", what="idle screen")
    await wait_for(pilot, lambda: app.service.started, what="the station to start")
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


async def start_self_service(pilot: Any, app: KioskApp) -> None:
    """``d`` on the exam screen, then the officer's once-a-session "phones are switched off"
    (the demo profile has ``phones.switched_off_not_silent``): the candidates' screen."""
    await pilot.press("d")
    await wait_for(pilot, lambda: screen_name(app) == "Confirm", what="the switched-off question")
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen_name(app) == "ExamDepositScreen")


def flagged_ids(app: KioskApp) -> list[int]:
    """Holdings waiting for a forced-open check, read straight from the ledger (the use-case
    ``holdings_to_check`` needs a signed-in person allowed to see holdings)."""
    from sqlalchemy import select

    from db.models import Holding

    with app.station.ctx.sessions() as s:
        return list(s.scalars(select(Holding.id).where(Holding.check_required_since.is_not(None))))
