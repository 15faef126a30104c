"""Snapshots of the main screens at 80x24 (the smallest terminal the kiosk must work in).

Content is deterministic: the ledger clock is fixed (tui_helpers.AFTERNOON) and no screen
shows the wall-clock time. Update with ``pytest tests/tui --snapshot-update`` after a
deliberate change, and look at the SVGs in the report before committing them.
"""

from __future__ import annotations

from typing import Any

from tui_helpers import (
    BEN,
    OFFICE,
    SENIOR,
    TEACHER,
    flagged_ids,
    screen_name,
    sign_in,
    tap,
    text_of,
    wait_for,
)

SIZE = (80, 24)


def test_idle_screen(snap_compare: Any, make_app: Any) -> None:
    async def ready(pilot: Any) -> None:
        await wait_for(pilot, lambda: screen_name(pilot.app) == "IdleScreen")

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_home_screen(snap_compare: Any, make_app: Any) -> None:
    async def home(pilot: Any) -> None:
        await sign_in(pilot, pilot.app, OFFICE)
        await wait_for(
            pilot, lambda: "Held now" in str(pilot.app.screen.query_one("#home-summary").render())
        )

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=home)


def test_confiscate_category_step(snap_compare: Any, make_app: Any) -> None:
    async def confiscating(pilot: Any) -> None:
        await sign_in(pilot, pilot.app, OFFICE)
        await tap(pilot, pilot.app, BEN)
        await wait_for(pilot, lambda: screen_name(pilot.app) == "ConfiscateScreen")
        await wait_for(
            pilot,
            lambda: (
                pilot.app.screen.focused is not None and pilot.app.screen.focused.id == "categories"
            ),
        )

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=confiscating)


async def _decision(pilot: Any, collector_index: int) -> None:
    app = pilot.app
    await sign_in(pilot, app, OFFICE)
    await pilot.press("r")
    await wait_for(pilot, lambda: screen_name(app) == "ReleaseScreen")
    await tap(pilot, app, BEN)
    await wait_for(
        pilot, lambda: app.screen.focused is not None and app.screen.focused.id == "collectors"
    )
    await pilot.press(*["down"] * collector_index, "enter")
    # The ID type is asked only when the policy allows the collector (issue 14).
    await wait_for(
        pilot,
        lambda: (
            app.screen.focused is not None
            and app.screen.focused.id in ("id-types", "decision-options")
        ),
    )
    if app.screen.focused.id == "id-types":
        await pilot.press("enter")
    await wait_for(
        pilot,
        lambda: app.screen.focused is not None and app.screen.focused.id == "decision-options",
    )


def test_release_decision_allowed(snap_compare: Any, make_app: Any) -> None:
    async def allowed(pilot: Any) -> None:
        await _decision(pilot, 0)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=allowed)


def test_release_decision_refused(snap_compare: Any, make_app: Any) -> None:
    async def refused(pilot: Any) -> None:
        await _decision(pilot, 1)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=refused)


# ---------------------------------------------------------------------------- issue 14
def test_staff_and_badges(snap_compare: Any, make_app: Any) -> None:
    async def staff(pilot: Any) -> None:
        app = pilot.app
        await sign_in(pilot, app, SENIOR)
        await pilot.press("b")
        await wait_for(pilot, lambda: screen_name(app) == "StaffScreen")
        await wait_for(pilot, lambda: len(app.screen.people) == 6)
        await pilot.press("b")  # waiting for the new badge on the reader
        await wait_for(pilot, lambda: "Tap the new badge" in text_of(app, "#staff-result"))

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=staff)


def test_pin_change(snap_compare: Any, make_app: Any) -> None:
    async def pin(pilot: Any) -> None:
        app = pilot.app
        await sign_in(pilot, app, TEACHER)
        await pilot.press("p")
        await wait_for(pilot, lambda: screen_name(app) == "PinChangeScreen")
        await pilot.press(*TEACHER[1], "enter", *"1234", "enter", *"1234", "enter")
        await wait_for(pilot, lambda: "too easy" in text_of(app, "#pin-error"))

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=pin)


def test_refused_adult_form(snap_compare: Any, make_app: Any) -> None:
    async def form(pilot: Any) -> None:
        app = pilot.app
        await _decision(pilot, 1)  # Tom Hughes: refused
        await pilot.press("enter")  # refuse and record
        await wait_for(pilot, lambda: screen_name(app) == "RefusedAdultForm")
        await pilot.press("enter", "enter")  # name as given, ID type
        await wait_for(
            pilot,
            lambda: app.screen.focused is not None and app.screen.focused.id == "refuse-barred",
        )

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=form)


def test_refused_adult_recorded(snap_compare: Any, make_app: Any) -> None:
    async def recorded(pilot: Any) -> None:
        app = pilot.app
        await _decision(pilot, 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "RefusedAdultForm")
        await pilot.press("enter", "enter", "enter")
        await wait_for(pilot, lambda: "REFUSED and recorded" in text_of(app, "#refused-text"))

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=recorded)


def test_forced_open_check(snap_compare: Any, make_app: Any) -> None:
    async def checks(pilot: Any) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: app.service.started)
        ben = next(h for h in app.custody.holdings(None) if h.pupil_name == "Ben Hughes")
        app.simulator.force_open(ben.locker_bank, ben.locker_number)
        await wait_for(pilot, lambda: flagged_ids(app))
        await tap(pilot, app, OFFICE[0])
        await wait_for(pilot, lambda: screen_name(app) == "LoginScreen")
        await pilot.press(*OFFICE[1], "enter")
        await wait_for(pilot, lambda: screen_name(app) == "ChecksScreen")
        await wait_for(pilot, lambda: app.screen.flagged)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=checks)
