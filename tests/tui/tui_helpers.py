"""Helpers for the staff UI tests: clocks, badges, cards, and waiting on a live app.

Why waiting helpers rather than fixed sleeps: card taps travel through the real reader
thread and doors through the real door monitor, so the time they take varies; tests wait
for what the person at the hatch would see (the timeout is a failure bound only). Time that
rules depend on (door timeouts, auto-lock) passes only when a test moves the
:class:`Ticker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from textual._context import active_app
from textual._queue import Queue
from textual._wait import wait_for_idle as textual_wait_for_idle
from textual.app import App

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
    """The person at the hatch closes the locker door once the lock has popped it open and
    the station has read it open (tests/door_watch.py)."""
    station = app.station
    await wait_for(
        pilot,
        lambda: (
            station.door_states()[(bank, number)].value == "open"
            and station.unlocks.settled(bank, number)
        ),
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


# ---------------------------------------------------------------------------- typing keys
#: Failure bound for one key's effects to settle (never an outcome).
SETTLE_TIMEOUT = 60.0


class _Enqueued:
    """How many messages Textual has queued for any message pump (counted by the patched
    ``textual._queue.Queue.put_nowait``, see :func:`counting_put_nowait`)."""

    count = 0


def counting_put_nowait(queue: Any, value: Any) -> None:
    _Enqueued.count += 1
    _TEXTUAL_PUT_NOWAIT(queue, value)


async def _round(app: App[Any]) -> bool:
    """One barrier: a callback queued behind whatever the app, its screen and each widget
    have in hand; True when it ran everywhere and nothing else was queued meanwhile."""
    try:
        pumps = [app, *app.screen.walk_children(with_self=True)]
    except Exception:  # no screen: the app is closing
        return True
    before = _Enqueued.count
    pending = set()
    done = asyncio.Event()

    def ran(pump: Any) -> None:
        pending.discard(pump)
        if not pending:
            done.set()

    for pump in pumps:
        if pump.call_later(ran, pump):
            pending.add(pump)
    queued = _Enqueued.count - before
    while pending:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 0.05)
        # A pump closed meanwhile (its screen went) never runs what it had queued.
        pending -= {p for p in pending if p._closed or p._closing}
    return _Enqueued.count - before == queued


async def settle(app: App[Any]) -> None:
    """Until the app, its screen and every widget on it have handled everything queued for
    them, with nothing new queued meanwhile.

    Why: Textual's Pilot waits after each key until the process used under 1 ms of CPU in a
    20 ms window (``textual._wait.wait_for_idle``), twice a key. That costs at least 40 ms a
    key, up to 2 s a key while the station's threads poll readers and doors, and it is a
    guess: a process descheduled on a busy machine looks idle. What the next key needs is
    that the previous one was handled (a focus moved, a screen pushed); this waits for
    exactly that. A worker thread still running is waited for as Textual would (once).
    """

    async def drained() -> None:
        waited: set[Any] = set()
        while True:
            for _ in range(3):  # a key reaches the queue via call_soon_threadsafe + a task
                await asyncio.sleep(0)
            busy = {w for w in app.workers if not w.is_finished} - waited
            if busy:
                # A worker (a sign-in, a use-case) may be blocked on purpose (a test holding
                # a commit): each gets Textual's own wait, until the process is idle, once.
                await textual_wait_for_idle(0)
                waited |= busy
                continue
            if await _round(app):
                return

    await asyncio.wait_for(drained(), SETTLE_TIMEOUT)


async def settled_wait_for_idle(min_sleep: float = 0.0, max_sleep: float = 1.0) -> None:
    """Stands in for ``textual._wait.wait_for_idle`` in the Pilot (after each key, in
    ``pilot.pause()`` and before a snapshot): :func:`settle` for the running app."""
    await settle(active_app.get())


_TEXTUAL_PUT_NOWAIT = Queue.put_nowait
