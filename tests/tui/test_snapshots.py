"""Snapshots of the main screens at 80x24 (the smallest terminal the kiosk must work in).

Content is deterministic: the ledger clock is fixed (tui_helpers.AFTERNOON) and no screen
shows the wall-clock time. Update with ``pytest tests/tui --snapshot-update`` after a
deliberate change, and look at the SVGs in the report before committing them.
"""

from __future__ import annotations

from typing import Any

from tui_helpers import BEN, OFFICE, screen_name, sign_in, tap, wait_for

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
    await pilot.press(*["down"] * collector_index, "enter", "enter")
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
