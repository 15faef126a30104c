"""80x24 snapshots of the issue 14 screens: the exam session form (with a refusal next to
its field), the exam list with its new keys, the voluntary hand-in and the receipt screen,
the staff role menu.

Deterministic: the ledger clock is fixed (tui_helpers.AFTERNOON), the demo school is seeded
at that time, and no screen shows the wall clock. Update with
``pytest tests/tui/test_snapshots_school_year.py --snapshot-update`` after a deliberate
change, and look at the SVGs before committing them.
"""

from __future__ import annotations

from typing import Any

from textual.css.query import NoMatches
from tui_helpers import (
    AMARA,
    HARRY,
    OFFICE,
    SENIOR,
    close_door_when_open,
    open_exam_screen,
    screen_name,
    sign_in,
    start_self_service,
    tap,
    text_of,
    wait_for,
)

from db.models import Pupil

SIZE = (80, 24)


def _shown(app: Any, selector: str) -> str:
    try:
        return text_of(app, selector)
    except NoMatches:
        return ""


def test_exam_list_with_session_keys(snap_compare: Any, make_app: Any) -> None:
    async def exams(pilot: Any) -> None:
        await open_exam_screen(pilot, pilot.app)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=exams)


def test_exam_session_form_with_a_refusal(snap_compare: Any, make_app: Any) -> None:
    async def form(pilot: Any) -> None:
        app = pilot.app
        await open_exam_screen(pilot, app)
        await pilot.press("c")
        await wait_for(pilot, lambda: screen_name(app) == "ExamSessionForm")
        await pilot.press(*"GCSE Maths Paper 1", "enter", "enter")
        await pilot.press(*"09:30", "enter", *"11:00", "enter", *"Hall", "enter", "enter")
        await tap(pilot, app, AMARA)
        await wait_for(pilot, lambda: "Candidates: 1" in text_of(app, "#cand-head"))
        await pilot.press("ctrl+s")  # the demo's only cabinet still holds pouches
        await wait_for(pilot, lambda: "in use" in text_of(app, "#m-cabinet"))

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=form)


def test_amnesty_reason_step(snap_compare: Any, make_app: Any) -> None:
    async def reason(pilot: Any) -> None:
        app = pilot.app
        await sign_in(pilot, app, OFFICE)
        await pilot.press("v")
        await wait_for(pilot, lambda: screen_name(app) == "AmnestyScreen")
        await tap(pilot, app, AMARA)
        await wait_for(
            pilot, lambda: app.screen.focused is not None and app.screen.focused.id == "reasons"
        )

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=reason)


def test_amnesty_receipt(snap_compare: Any, make_app: Any) -> None:
    async def receipt(pilot: Any) -> None:
        app = pilot.app
        await sign_in(pilot, app, OFFICE)
        await pilot.press("v")
        await wait_for(pilot, lambda: screen_name(app) == "AmnestyScreen")
        await tap(pilot, app, AMARA)
        await wait_for(
            pilot, lambda: app.screen.focused is not None and app.screen.focused.id == "reasons"
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.job is not None and app.job.holding is not None)
        h = app.job.holding
        await close_door_when_open(pilot, app, h.locker_bank, h.locker_number)
        await wait_for(pilot, lambda: "safekeeping receipt" in _shown(app, "#receipt"))

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=receipt)


def test_self_service_shows_the_candidate_number_and_pouch(
    snap_compare: Any, make_app: Any
) -> None:
    app = make_app()
    harry = app.custody.pupil_by_card(None, HARRY)
    with app.station.ctx.sessions.begin() as s:
        s.get(Pupil, harry.id).candidate_number = "4321"

    async def deposit(pilot: Any) -> None:
        await open_exam_screen(pilot, app)
        await start_self_service(pilot, app)
        await tap(pilot, app, HARRY)
        await wait_for(pilot, lambda: "POUCH 4" in text_of(app, "#exam-result"))
        await close_door_when_open(pilot, app, "B", 4)  # no door step left running
        await wait_for(pilot, lambda: "Thank you" in text_of(app, "#exam-result"))

    assert snap_compare(app, terminal_size=SIZE, run_before=deposit)


def test_staff_role_menu(snap_compare: Any, make_app: Any) -> None:
    """``r`` on the Staff screen: grant or remove a role of the highlighted person."""

    async def roles(pilot: Any) -> None:
        app = pilot.app
        await sign_in(pilot, app, SENIOR)
        await pilot.press("b")
        await wait_for(pilot, lambda: screen_name(app) == "StaffScreen")
        await wait_for(pilot, lambda: len(app.screen.people) > 0, what="staff list")
        row = next(i for i, p in enumerate(app.screen.people) if p.name.startswith("Alex"))
        await pilot.press(*["down"] * row, "r")
        await wait_for(pilot, lambda: screen_name(app) == "RoleMenu")

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=roles)
