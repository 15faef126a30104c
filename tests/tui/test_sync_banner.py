"""The staff screen's sync banner: shown only when sync is configured, an alarm when the
central log refused something (kiosk sync runs apart; the UI reads its state from the ledger)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import update
from tui_helpers import AFTERNOON, Clock, Ticker, run_async, wait_for

from db.models import OutboxRow
from kiosk.demo import DEMO_BADGES, demo_config
from kiosk.runtime import close_station, open_station
from kiosk.service import StationService
from kiosk.sync.config import SyncConfig
from tui.app import KioskApp


def _station(tmp_path: Path, seeded_template: Path, **sync: Any) -> Any:
    folder = tmp_path / "school"
    folder.mkdir()
    for f in seeded_template.iterdir():
        if f.is_file():
            (folder / f.name).write_bytes(f.read_bytes())
    config = demo_config(folder).model_copy(update={"sync": SyncConfig(**sync)})
    return open_station(
        config, simulate=True, clock=Clock(AFTERNOON), door_close_timeout=1.0, monotonic=Ticker()
    )


@run_async
async def test_refused_records_raise_the_sync_alarm(tmp_path: Path, seeded_template: Path) -> None:
    st = _station(tmp_path, seeded_template, central_url="https://central.test")
    try:
        with st.ctx.sessions.begin() as s:
            s.execute(
                update(OutboxRow)
                .where(OutboxRow.id == 3)
                .values(quarantined_at=AFTERNOON, quarantine_reason="HTTP 409 chain_break")
            )
        service = StationService(st)
        app = KioskApp(service, idle_lock_seconds=600, lock_check_interval=0.1)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: "sync" in app.alarms, what="the sync alarm")
            assert "refused 1 record" in app.alarms["sync"]
        # An acknowledgement does not silence it: only the relay's state clears it.
        office = st.ctx.custody.sign_in(*DEMO_BADGES["office"])
        service.acknowledge_alarms(office)
        assert "sync" in service.alarms
    finally:
        close_station(st)


@run_async
async def test_no_sync_configured_says_nothing(tmp_path: Path, seeded_template: Path) -> None:
    st = _station(tmp_path, seeded_template)  # demo: unsent history, but no central log
    try:
        app = KioskApp(StationService(st), idle_lock_seconds=600, lock_check_interval=0.1)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert "sync" not in app.alarms
    finally:
        close_station(st)
