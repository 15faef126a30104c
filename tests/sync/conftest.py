"""A seeded kiosk ledger per test, a fake central, and a relay wired to both."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fake_central import FakeCentral
from sync_testing import STATION, T0, Clock, Rig

from kiosk.context import KioskContext, open_context
from kiosk.demo import demo_config, seed_demo
from kiosk.sync.client import CentralClient, RetryPolicy
from kiosk.sync.relay import Relay


@pytest.fixture(scope="session")
def ledger_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sync-template")
    seed_demo(folder, now=T0).close()
    return folder


@pytest.fixture
def kiosk(tmp_path: Path, ledger_template: Path) -> KioskContext:
    target = tmp_path / "kiosk"
    shutil.copytree(ledger_template, target)
    ctx = open_context(demo_config(target))
    yield ctx
    ctx.close()


@pytest.fixture
def rig(kiosk: KioskContext) -> Rig:
    central = FakeCentral()
    waits: list[float] = []
    client = CentralClient(
        "https://central.test",
        central.credential,
        timeout=5.0,
        retry=RetryPolicy(attempts=4, initial=1.0, max_wait=30.0, sleep=waits.append),
        transport=central.transport,
    )
    clock = Clock()
    relay = Relay(
        kiosk.sessions,
        client,
        station_id=STATION,
        data_dir=kiosk.config.station.data_dir,
        batch_size=10,
        clock=clock,
    )
    yield Rig(kiosk, central, client, relay, waits, clock)
    client.close()
