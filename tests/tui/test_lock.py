"""What a lock does to the work in hand (docs/tui.md, Auto-lock).

The rule under test (DESIGN.md, Physical truth vs. database truth): a lock never rolls a
record back by guessing. Once the lock pulse opened a door the holding stays
``depositing``/``releasing`` for staff to settle; only work whose door never opened is rolled
back. And the idle screen faces the public: no lock note may name a pupil.
"""

from __future__ import annotations

import csv
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from tui_helpers import (
    BEN,
    EXAMS,
    OFFICE,
    Ticker,
    close_door_when_open,
    run_async,
    screen_name,
    sign_in,
    tap,
    text_of,
    wait_for,
)

import kiosk
from kiosk.task import Task, TaskKind, TaskLocked

PUPILS_CSV = Path(kiosk.__file__).parent / "demo_data" / "pupils.csv"


def pupil_names() -> list[str]:
    """Every demo pupil's full name and surname (forenames like "Ben" are too short to grep)."""
    with PUPILS_CSV.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = []
    for r in rows:
        names += [f"{r['Legal Forename']} {r['Legal Surname']}", r["Legal Surname"]]
    return names


def idle_screen_text(app: Any) -> str:
    """Everything a passer-by can read on the idle screen, toasts included."""
    svg = app.export_screenshot()
    text = re.sub(r"<[^>]+>", "", svg).replace("&#160;", " ").replace("&#x27;", "'")
    notes = " ".join(str(n.message) for n in app._notifications)
    return f"{text}\n{' '.join(app.idle_notes)}\n{notes}"


def assert_no_pupil_names(app: Any) -> None:
    assert screen_name(app) == "IdleScreen"
    text = idle_screen_text(app)
    shown = [name for name in pupil_names() if name in text]
    assert not shown, f"the public idle screen names {shown}:\n{app.idle_notes}"


async def start_confiscation(pilot: Any, app: Any) -> None:
    """Home -> Ben's card -> category -> device: the locker list is focused."""
    await tap(pilot, app, BEN)
    await wait_for(pilot, lambda: screen_name(app) == "ConfiscateScreen")
    await pilot.press("enter", *"red phone", "enter")
    await wait_for(
        pilot, lambda: app.screen.focused is not None and app.screen.focused.id == "lockers"
    )


async def start_release(pilot: Any, app: Any) -> None:
    """Home -> r -> Ben's card -> parent -> ID: the decision (ALLOWED) is on screen."""
    await pilot.press("r")
    await wait_for(pilot, lambda: screen_name(app) == "ReleaseScreen")
    await tap(pilot, app, BEN)
    await wait_for(
        pilot, lambda: app.screen.focused is not None and app.screen.focused.id == "collectors"
    )
    await pilot.press("enter", "enter")
    await wait_for(
        pilot,
        lambda: app.screen.focused is not None and app.screen.focused.id == "decision-options",
    )


def door(app: Any, holding: Any) -> str:
    return app.station.door_states()[(holding.locker_bank, holding.locker_number)].value


async def door_wait_ends_open(pilot: Any, app: Any, ticker: Ticker, holding: Any) -> None:
    """The door opens and nobody closes it: the 1 s door wait ends, then 1 s idle locks."""
    await wait_for(pilot, lambda: door(app, holding) == "open")
    ticker.advance(1.0)
    await wait_for(pilot, lambda: app.job is not None and app.job.door_opened)
    ticker.advance(1.0)
    await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
    await wait_for(pilot, lambda: "unfinished" in text_of(app, "#idle-notes"))


def reconciled(app: Any) -> list[int]:
    return [item.holding.id for item in app.station.reconcile()]


# ---------------------------------------------------------------------------- A
@run_async
async def test_lock_after_release_door_not_closed_leaves_it_for_staff(
    make_app: Any, ticker: Ticker
) -> None:
    """The door opened and was not closed in time, then the idle lock: no guess, staff settle."""
    app = make_app(idle_lock_seconds=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await start_release(pilot, app)
        await pilot.press("enter")  # open the locker and hand it over
        await wait_for(pilot, lambda: app.job is not None and app.job.holding is not None)
        holding = app.job.holding
        # The door opens; nobody closes it; the 1 s door wait ends; 1 s later the kiosk locks.
        await door_wait_ends_open(pilot, app, ticker, holding)
        assert app.custody.holding(None, holding.id).state == "releasing"
        assert holding.id in reconciled(app)
        notes = text_of(app, "#idle-notes")
        assert (
            f"#{holding.id} in {holding.locker} is unfinished: check the locker, then settle "
            "it on the Holdings screen"
        ) in notes
        assert "rolled back" not in notes
        assert_no_pupil_names(app)
        # Staff check the locker: it is empty, the phone was handed over. They confirm (k).
        await sign_in(pilot, app, OFFICE)
        await pilot.press("s")
        await wait_for(pilot, lambda: screen_name(app) == "HoldingsScreen")
        await wait_for(pilot, lambda: bool(app.screen.holdings))
        row = [h.id for h in app.screen.holdings].index(holding.id)
        app.screen.query_one("#holdings").move_cursor(row=row)
        await pilot.press("k")
        await wait_for(pilot, lambda: "released" in text_of(app, "#result"))
        assert app.custody.holding(None, holding.id).state == "released"


@run_async
async def test_lock_after_deposit_door_not_closed_keeps_locker_reserved(
    make_app: Any, ticker: Ticker
) -> None:
    """A phone may be in the open locker: it is not freed for the next confiscation."""
    app = make_app(idle_lock_seconds=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await start_confiscation(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.job is not None and app.job.holding is not None)
        holding = app.job.holding
        await door_wait_ends_open(pilot, app, ticker, holding)
        assert app.custody.holding(None, holding.id).state == "depositing"
        states = {lk.label: lk.state for lk in app.custody.lockers()}
        assert states[holding.locker] != "free"
        assert holding.id in reconciled(app)
        assert f"#{holding.id} in {holding.locker} is unfinished" in text_of(app, "#idle-notes")
        assert_no_pupil_names(app)


@run_async
async def test_lock_while_door_step_running_then_door_not_closed(
    make_app: Any, ticker: Ticker
) -> None:
    """Badge tapped again while the locker is open; nobody closes it: left for staff."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await start_confiscation(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.job is not None and app.job.door_running)
        holding = app.job.holding
        await wait_for(pilot, lambda: door(app, holding) == "open")
        await tap(pilot, app, OFFICE[0])  # the signed-in person taps again: locked
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        assert "the locker is open" in text_of(app, "#idle-notes")
        assert_no_pupil_names(app)
        ticker.advance(1.0)  # the door wait ends with the door still open
        await wait_for(pilot, lambda: "is unfinished" in text_of(app, "#idle-notes"))
        assert app.custody.holding(None, holding.id).state == "depositing"
        assert holding.id in reconciled(app)
        assert app.job is None
        assert_no_pupil_names(app)


@run_async
async def test_lock_while_door_step_running_then_door_closed(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await start_confiscation(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.job is not None and app.job.door_running)
        holding = app.job.holding
        await wait_for(pilot, lambda: door(app, holding) == "open")
        await tap(pilot, app, OFFICE[0])
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        bank, number = holding.locker_bank, holding.locker_number
        await wait_for(pilot, lambda: app.station.unlocks.settled(bank, number), what="unlock")
        app.simulator.close_door(holding.locker_bank, holding.locker_number)
        await wait_for(pilot, lambda: "after the lock" in text_of(app, "#idle-notes"))
        assert app.custody.holding(None, holding.id).state == "held"
        assert f"Confiscation #{holding.id} (locker {holding.locker})" in text_of(
            app, "#idle-notes"
        )
        assert_no_pupil_names(app)


# ---------------------------------------------------------------------------- B
class SlowCommit:
    """Holds a custody call on its worker thread until the test lets it go."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.entered = threading.Event()
        self.go = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        assert self.go.wait(10)
        return self.fn(*args, **kwargs)


@run_async
async def test_lock_while_confiscation_is_saving_rolls_it_back(
    make_app: Any, station: Any, monkeypatch: Any
) -> None:
    """The commit lands after the lock: rolled back (its door never opened) and said so."""
    slow = SlowCommit(station.custody.confiscate)
    monkeypatch.setattr(station.custody, "confiscate", slow)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        before = {h.id for h in app.custody.holdings(None, open_only=False)}
        await start_confiscation(pilot, app)
        await pilot.press("enter")
        await wait_for(pilot, slow.entered.is_set, what="the commit worker")
        await tap(pilot, app, OFFICE[0])  # locked while saving
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        assert "A confiscation in progress was being saved" in text_of(app, "#idle-notes")
        slow.go.set()
        await wait_for(pilot, lambda: "rolled back" in text_of(app, "#idle-notes"))
        new = [h for h in app.custody.holdings(None, open_only=False) if h.id not in before]
        assert len(new) == 1
        holding = new[0]
        assert app.custody.holding(None, holding.id).state == "aborted"
        assert {lk.label: lk.state for lk in app.custody.lockers()}[holding.locker] == "free"
        assert door(app, holding) == "closed"  # nothing opened after the lock
        assert not reconciled(app)
        notes = text_of(app, "#idle-notes")
        assert f"Confiscation #{holding.id} (locker {holding.locker}) was rolled back" in notes
        assert "being saved" not in notes
        assert_no_pupil_names(app)


@run_async
async def test_lock_while_release_is_saving_rolls_it_back(
    make_app: Any, station: Any, monkeypatch: Any
) -> None:
    slow = SlowCommit(station.custody.begin_release)
    monkeypatch.setattr(station.custody, "begin_release", slow)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await start_release(pilot, app)
        ben = app.screen.holding
        await pilot.press("enter")
        await wait_for(pilot, slow.entered.is_set, what="the commit worker")
        await tap(pilot, app, OFFICE[0])
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        assert "A release in progress was being saved" in text_of(app, "#idle-notes")
        slow.go.set()
        await wait_for(pilot, lambda: "rolled back" in text_of(app, "#idle-notes"))
        assert app.custody.holding(None, ben.id).state == "held"
        assert door(app, ben) == "closed"
        assert not reconciled(app)
        assert f"Release #{ben.id} (locker {ben.locker}) was rolled back" in text_of(
            app, "#idle-notes"
        )
        assert_no_pupil_names(app)


def test_lock_before_the_commit_worker_starts_writes_nothing(service: Any) -> None:
    """The lock lands between the Enter and the worker's start: the commit never runs."""
    task = Task(TaskKind.DEPOSIT)
    task.take_over(None, "Locked after 90 s with no input.")
    called: list[bool] = []
    with pytest.raises(TaskLocked):
        service.commit(task, lambda: called.append(True), lambda r: r)
    assert not called and task.holding is None and not task.saving


# ---------------------------------------------------------------------------- C
@run_async
async def test_lock_mid_form_names_no_pupil(make_app: Any, ticker: Ticker) -> None:
    app = make_app(idle_lock_seconds=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(pilot, app, OFFICE)
        await start_release(pilot, app)  # Ben's release decision on screen, then walk away
        ticker.advance(1.0)
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        assert "Locked after 1 s" in text_of(app, "#idle-notes")
        assert_no_pupil_names(app)
        await sign_in(pilot, app, OFFICE)
        await tap(pilot, app, BEN)
        await wait_for(pilot, lambda: screen_name(app) == "ConfiscateScreen")
        ticker.advance(1.0)
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        assert "A confiscation in progress was not saved" in text_of(app, "#idle-notes")
        assert_no_pupil_names(app)


# ---------------------------------------------------------------------------- D
async def ended_session(pilot: Any, app: Any) -> None:
    await sign_in(pilot, app, EXAMS)
    await pilot.press("e")
    await wait_for(pilot, lambda: screen_name(app) == "ExamScreen")
    await wait_for(pilot, lambda: "3 of 6 deposited" in text_of(app, "#exam-status"))
    await pilot.press("n")
    await wait_for(pilot, lambda: "release all" in text_of(app, "#exam-status"))


def pouches(app: Any, state: str) -> list[Any]:
    return [h for h in app.custody.holdings(None) if h.kind == "exam_deposit" and h.state == state]


@run_async
async def test_exam_hand_back_pauses_auto_lock_while_cabinet_open(
    make_app: Any, station: Any, ticker: Ticker
) -> None:
    station.door_close_timeout = 5.0
    app = make_app(idle_lock_seconds=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await ended_session(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: station.door_states()[("B", 4)].value == "open")
        ticker.advance(2.0)  # twice the idle limit, the officer handing out pouches
        assert not app.service.auto_lock_due(app.idle_lock_seconds)
        app._check_idle()  # what the lock timer does on its next tick
        await pilot.pause()
        assert app.identity is not None and screen_name(app) == "ExamScreen"
        await wait_for(pilot, lambda: station.unlocks.settled("B", 4), what="the unlock")
        app.simulator.close_door("B", 4)
        await wait_for(pilot, lambda: not pouches(app, "releasing") and not pouches(app, "held"))
        await wait_for(pilot, lambda: app.job is None, what="the hand-back to be reported")
        assert app.identity is not None


@run_async
async def test_lock_mid_exam_hand_back_is_left_for_staff_and_b_retries(
    make_app: Any, station: Any, ticker: Ticker
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ended_session(pilot, app)
        await pilot.press("b")
        await wait_for(pilot, lambda: station.door_states()[("B", 4)].value == "open")
        await tap(pilot, app, EXAMS[0])  # locked while the cabinet is open
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        assert "the locker is open" in text_of(app, "#idle-notes")
        # Nobody closes the cabinet in time: the pouches stay "releasing", listed.
        ticker.advance(1.0)
        await wait_for(pilot, lambda: "unfinished" in text_of(app, "#idle-notes"))
        assert "Exam hand-back" in text_of(app, "#idle-notes")
        releasing = pouches(app, "releasing")
        assert len(releasing) == 3 and not pouches(app, "held")
        assert {h.id for h in releasing} <= set(reconciled(app))
        assert_no_pupil_names(app)
        # The officer comes back and presses b again: the cabinet opens, the door closes.
        await ended_session_again(pilot, app)
        unlocks = station.unlocks.returned[("B", 4)]
        await pilot.press("b")
        # The cabinet is still open: the step finds it open (no pulse). Closed before the step
        # reads it, the step would pulse it open again and wait for a second closing.
        await wait_for(
            pilot,
            lambda: station.unlocks.returned[("B", 4)] > unlocks,
            what="the second step to read the cabinet",
        )
        await close_door_when_open(pilot, app, "B", 4)
        await wait_for(pilot, lambda: not pouches(app, "releasing"))
        assert not pouches(app, "held")


async def ended_session_again(pilot: Any, app: Any) -> None:
    await sign_in(pilot, app, EXAMS)
    await pilot.press("e")
    await wait_for(pilot, lambda: screen_name(app) == "ExamScreen")
    await wait_for(pilot, lambda: "release all" in text_of(app, "#exam-status"))


@run_async
async def test_auto_lock_after_exam_cabinet_not_closed(
    make_app: Any, station: Any, ticker: Ticker
) -> None:
    app = make_app(idle_lock_seconds=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await ended_session(pilot, app)
        await pilot.press("b")
        # 1 s door wait, then 1 s idle: locked with the cabinet open.
        await wait_for(pilot, lambda: station.door_states()[("B", 4)].value == "open")
        ticker.advance(1.0)
        await wait_for(pilot, lambda: app.job is not None and app.job.door_opened)
        ticker.advance(1.0)
        await wait_for(pilot, lambda: screen_name(app) == "IdleScreen")
        assert "unfinished" in text_of(app, "#idle-notes")
        assert len(pouches(app, "releasing")) == 3
        assert_no_pupil_names(app)
