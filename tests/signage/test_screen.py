"""The signage screen: rotates, takes new content, puts an exam first; snapshots at 80x24."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import policies
from kiosk.signage import notices_for
from kiosk.views import ExamSessionState, ExamSessionView
from tui.signage import SignageApp, SignageView

START = datetime(2026, 11, 17, 13, 30, tzinfo=UTC)
SESSION = ExamSessionView(
    id=1,
    name="GCSE English Paper 1",
    room="Sports hall",
    starts_at=START,
    ends_at=START + timedelta(minutes=105),
    state=ExamSessionState.OPEN,
)
PROFILE = policies.load_profile("pioneer-trust")
LONDON = ZoneInfo("Europe/London")


def fixed(now, sessions=()):
    """A feed frozen at ``now``: nothing on screen changes between runs."""
    return lambda: notices_for(PROFILE, list(sessions), now, LONDON)


def _text(app, widget_id):
    return str(app.query_one(f"#{widget_id}").render())


def test_rotates_through_every_notice_and_wraps():
    asyncio.run(_test_rotates_through_every_notice_and_wraps())


async def _test_rotates_through_every_notice_and_wraps():
    app = SignageApp(fixed(START - timedelta(hours=3)), interval=0, refresh_every=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        view = app.query_one(SignageView)
        await app.workers.wait_for_complete()
        await pilot.pause()
        titles = []
        for _ in range(len(view.notices)):
            titles.append(_text(app, "sign-title"))
            await pilot.press("n")
        assert titles[0] == "Pioneer Educational Trust"
        assert "Changing rooms" in titles and "Toilets" in titles
        assert _text(app, "sign-title") == titles[0]  # wrapped round
        assert "Policy: 002_" in _text(app, "sign-source")


def test_timer_rotates_without_keys():
    asyncio.run(_test_timer_rotates_without_keys())


async def _test_timer_rotates_without_keys():
    app = SignageApp(fixed(START - timedelta(hours=3)), interval=0.05, refresh_every=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        # The 0.05 s timer is real; wait (bounded) for it to turn a page, do not guess a delay.
        view = app.query_one(SignageView)
        deadline = asyncio.get_running_loop().time() + 20
        while view.index == 0 and asyncio.get_running_loop().time() < deadline:
            await pilot.pause(0.05)
        assert view.index > 0


def test_exam_starting_takes_over_the_screen():
    asyncio.run(_test_exam_starting_takes_over_the_screen())


async def _test_exam_starting_takes_over_the_screen():
    sessions: list[ExamSessionView] = []
    app = SignageApp(
        lambda: notices_for(PROFILE, list(sessions), START, LONDON), interval=0, refresh_every=0
    )
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(SignageView)
        await app.workers.wait_for_complete()
        await pilot.press("n")
        sessions.append(SESSION)
        view.reload()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "EXAM IN PROGRESS" in _text(app, "sign-banner")
        assert "phones must be deposited" in _text(app, "sign-title")


def test_snapshot_zone_notice(snap_compare):
    async def to_zone(pilot):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("n")

    app = SignageApp(fixed(START - timedelta(hours=3)), interval=0, refresh_every=0)
    assert snap_compare(app, terminal_size=(80, 24), run_before=to_zone)


def test_snapshot_exam_in_progress(snap_compare):
    async def settle(pilot):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    app = SignageApp(fixed(START + timedelta(minutes=20), [SESSION]), interval=0, refresh_every=0)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)
