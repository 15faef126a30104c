"""Release through the staff UI: from ``begin_release``'s commit to the unlock command.

Run: .venv/bin/python bench/ui_release_hop.py [--releases 15]

``bench/tap_to_unlock.py`` calls the use-cases and the station directly; the staff UI adds
what lies between the commit and the door: the release screen's worker, Textual's event
loop and the service's door thread. This drives the real app (Textual's pilot, headless)
on the simulated station of the seeded demo school: sign in, ``r``, tap Ben's card, pick
the first collector, the first ID type, "open locker", close the door; a phone goes back
into custody (untimed) before the next round. Timed: from the ``after_commit`` of
``begin_release`` (a session event) to the lock bank's ``unlock`` call, wall clock, in the
same process. The peer, printed beside it: the same release's commit itself (its CPU and
wall time are in bench/tap_to_unlock.py).

The waiting helpers are the UI tests' (tests/tui/tui_helpers.py): they wait on what the
person at the hatch would see, never on a fixed sleep.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "tui"))

from sqlalchemy import event
from tui_helpers import (  # type: ignore[import-not-found]  # tests/tui, on sys.path above
    AFTERNOON,
    BEN,
    OFFICE,
    Clock,
    Ticker,
    close_door_when_open,
    screen_name,
    sign_in,
    tap,
    text_of,
    wait_for,
)

from kiosk.demo import demo_config, seed_demo
from kiosk.runtime import close_station, open_station
from kiosk.service import StationService
from tui.app import KioskApp


def _focused(app: KioskApp, widget_id: str) -> bool:
    return app.screen.focused is not None and app.screen.focused.id == widget_id


async def run(releases: int) -> tuple[list[float], list[float]]:
    folder = Path(tempfile.mkdtemp()) / "school"
    seed_demo(folder, now=AFTERNOON).close()
    station = open_station(
        demo_config(folder),
        simulate=True,
        clock=Clock(AFTERNOON),
        door_close_timeout=1.0,
        monotonic=Ticker(),
    )
    service = StationService(station)
    marks: dict[str, float] = {}
    hop_ms: list[float] = []
    commit_ms: list[float] = []

    def before_commit(_session: Any) -> None:
        marks["before"] = time.perf_counter()

    def after_commit(_session: Any) -> None:
        marks["commit"] = time.perf_counter()
        marks["commit_ms"] = (marks["commit"] - marks["before"]) * 1000

    event.listen(station.ctx.sessions, "before_commit", before_commit)
    event.listen(station.ctx.sessions, "after_commit", after_commit)
    for bank in station.banks.values():
        real = bank.unlock

        def unlock(number: int, _real: Any = real) -> Any:
            hop_ms.append((time.perf_counter() - marks["commit"]) * 1000)
            commit_ms.append(marks["commit_ms"])
            return _real(number)

        bank.unlock = unlock  # type: ignore[method-assign]
    app = KioskApp(service, idle_lock_seconds=600, lock_check_interval=0.05)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await sign_in(pilot, app, OFFICE)
            for _ in range(releases):
                ben = next(
                    h
                    for h in app.custody.holdings(None)
                    if h.pupil_name == "Ben Hughes" and h.state == "held"
                )
                await pilot.press("r")
                await wait_for(pilot, lambda: screen_name(app) == "ReleaseScreen")
                await tap(pilot, app, BEN)
                await wait_for(pilot, lambda: _focused(app, "collectors"), what="collectors")
                await pilot.press("enter")
                await wait_for(pilot, lambda: _focused(app, "id-types"), what="ID types")
                await pilot.press("enter")
                await wait_for(pilot, lambda: _focused(app, "decision-options"), what="decision")
                await pilot.press("enter")  # open the locker: the timed step
                assert ben.locker_bank is not None and ben.locker_number is not None
                await close_door_when_open(pilot, app, ben.locker_bank, ben.locker_number)
                await wait_for(pilot, lambda: "Released from" in text_of(app, "#door-text"))
                await pilot.press("enter")  # Done
                await wait_for(pilot, lambda: screen_name(app) != "ReleaseScreen")
                # untimed: Ben's phone goes back into custody for the next round
                who = app.identity
                assert who is not None and ben.pupil_id is not None
                h, _ = app.custody.confiscate(
                    who,
                    pupil_id=ben.pupil_id,
                    category="unauthorised_use",
                    device_description="phone",
                    switched_off_confirmed=True,
                )
                app.custody.confirm_deposit(who, h.id)
    finally:
        service.stop()
        close_station(station)
    return hop_ms, commit_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--releases", type=int, default=15)
    args = ap.parse_args()
    hop_ms, commit_ms = asyncio.run(run(args.releases))
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(f"UI release, {len(hop_ms)} releases (load {' '.join(load)})")
    print(
        f"  begin_release commit -> unlock command  p50 {statistics.median(hop_ms):6.2f} ms  "
        f"max {max(hop_ms):6.2f} ms"
    )
    print(
        f"  the commit itself (peer)               p50 {statistics.median(commit_ms):6.2f} ms  "
        f"max {max(commit_ms):6.2f} ms"
    )


if __name__ == "__main__":
    main()
