"""The relay over real HTTP, through a TCP proxy that drops and holds connections, to the
central log (the contract fake, and the real service on SQLite and PostgreSQL).

In every case the central log ends with exactly the kiosk's events, each (station, seq)
once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from central_harness import CentralUnderTest, start_central
from sqlalchemy import delete, select, update
from sync_testing import STATION, add_events, kiosk_counts, ledger_head, write_config

from db.models import ChainHead, Event, OutboxRow
from kiosk.context import KioskContext
from kiosk.demo import DEMO_BADGES
from kiosk.sync.client import CentralClient, CentralUnavailable, RetryPolicy
from kiosk.sync.relay import REFUSED_EVENT, Relay

#: The installed console script, as systemd runs it.
KIOSK = [str(Path(sys.executable).parent / "kiosk")]


@pytest.fixture(params=["fake", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def central(request: pytest.FixtureRequest, tmp_path: Path) -> CentralUnderTest:
    c = start_central(request.param, tmp_path, STATION)
    yield c
    c.close()


class Waits(list[float]):
    """The retry policy's sleep: records each wait instead of waiting, runs a hook."""

    def __init__(self, hook=None) -> None:
        super().__init__()
        self.hook = hook

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.hook:
            self.hook()


class TimeoutAfterFirst(httpx.HTTPTransport):
    """A real HTTP transport that gives the first request its own timeout, later ones another.

    The timeout travels in each request's ``timeout`` extension (httpx's per-request
    timeout); this sets it, so only the attempt the test means to time out can."""

    def __init__(self, *, first: float, then: float) -> None:
        super().__init__()
        self.first, self.then = first, then
        self.requests = 0
        self.timeouts: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        seconds = self.first if self.requests == 0 else self.then
        self.requests += 1
        self.timeouts.append(seconds)
        request.extensions["timeout"] = httpx.Timeout(seconds).as_dict()
        return super().handle_request(request)


def relay_for(
    kiosk: KioskContext,
    central: CentralUnderTest,
    *,
    timeout: float = 10.0,
    waits=None,
    transport: httpx.BaseTransport | None = None,
) -> Relay:
    client = CentralClient(
        central.url,
        central.credential,
        timeout=timeout,
        transport=transport,
        retry=RetryPolicy(
            attempts=4, initial=1.0, max_wait=30.0, sleep=waits if waits is not None else Waits()
        ),
    )
    return Relay(
        kiosk.sessions,
        client,
        station_id=STATION,
        data_dir=kiosk.config.station.data_dir,
        batch_size=10,
    )


def assert_in_step(kiosk: KioskContext, central: CentralUnderTest) -> None:
    events, sent = kiosk_counts(kiosk)
    seqs = central.seqs(STATION)
    assert len(seqs) == len(set(seqs)), "a (station, seq) stored twice"
    assert len(seqs) == events == sent
    assert seqs == list(range(1, events + 1))


def test_normal_drain(kiosk: KioskContext, central: CentralUnderTest) -> None:
    add_events(kiosk, 40)
    events, _sent = kiosk_counts(kiosk)
    relay = relay_for(kiosk, central)
    result = relay.drain()
    assert result.stored == events and result.batches == -(-events // 10)  # batches of 10
    assert_in_step(kiosk, central)


def test_central_down_then_up(kiosk: KioskContext, central: CentralUnderTest) -> None:
    waits = Waits()
    relay = relay_for(kiosk, central, waits=waits)
    central.proxy.down()
    with pytest.raises(CentralUnavailable, match="ConnectError"):
        relay.drain()
    assert central.seqs(STATION) == [] and len(waits) == 3
    central.proxy.up()
    relay.drain()
    assert_in_step(kiosk, central)


def test_connection_cut_after_central_stored_the_batch(
    kiosk: KioskContext, central: CentralUnderTest
) -> None:
    add_events(kiosk, 13)
    central.proxy.actions = ["pass", "cut", "pass", "cut", "cut", "pass"]
    result = relay_for(kiosk, central).drain()
    assert central.proxy.cuts == 3
    # Batches 2 and 3 were stored but their answers lost: each came back as duplicates.
    events, _sent = kiosk_counts(kiosk)
    assert result.duplicates == 20 and result.stored == events - 20
    assert_in_step(kiosk, central)


def test_500s_before_and_after_storing(kiosk: KioskContext, central: CentralUnderTest) -> None:
    central.flaky.before, central.flaky.after = 2, 1
    waits = Waits()
    result = relay_for(kiosk, central, waits=waits).drain()
    assert len(waits) == 3 and result.duplicates == 10
    assert_in_step(kiosk, central)


def test_slow_answer_times_out_and_is_retried(
    kiosk: KioskContext, central: CentralUnderTest
) -> None:
    # The proxy holds the first answer until the test releases it, so the first attempt
    # always runs into the client's 0.5 s timeout. The release happens in the retry's wait
    # (only reached once that attempt has failed), and the retry itself gets a 60 s timeout
    # (TimeoutAfterFirst): it cannot time out on a loaded machine, so the outcome is exact.
    central.proxy.actions = ["hold"]
    waits = Waits(hook=central.proxy.release.set)
    transport = TimeoutAfterFirst(first=0.5, then=60.0)
    relay = relay_for(kiosk, central, timeout=0.5, waits=waits, transport=transport)
    result = relay.drain()
    assert transport.timeouts == [0.5] + [60.0] * (transport.requests - 1)
    # One timed-out attempt, one retry; the held batch (stored, answer lost) came back as
    # 10 duplicates and is stored once.
    assert len(waits) == 1 and result.duplicates == 10
    assert_in_step(kiosk, central)


def test_same_batch_twice(kiosk: KioskContext, central: CentralUnderTest) -> None:
    relay = relay_for(kiosk, central)
    relay.drain()
    with kiosk.sessions.begin() as s:
        s.execute(update(OutboxRow).values(sent_at=None))
    result = relay.drain()
    assert result.duplicates == kiosk_counts(kiosk)[0] and result.stored == 0
    assert_in_step(kiosk, central)


def test_tampered_local_event_is_refused_and_raised(
    kiosk: KioskContext, central: CentralUnderTest
) -> None:
    with kiosk.sessions.begin() as s:
        s.execute(update(Event).where(Event.seq == 15).values(payload={"previous": "forged"}))
    result = relay_for(kiosk, central).drain()
    assert result.blocked
    assert central.seqs(STATION) == list(range(1, 15))
    with kiosk.sessions() as s:
        alarm = s.scalars(select(Event).where(Event.type == REFUSED_EVENT)).one()
        quarantined = s.scalars(
            select(Event.seq)
            .join(OutboxRow, OutboxRow.event_id == Event.id)
            .where(OutboxRow.quarantined_at.is_not(None))
        ).all()
    assert alarm.payload["error"] == "chain_break" and alarm.payload["seq"] == 15
    assert quarantined == list(range(15, 21))
    # The central log holds exactly what the kiosk counts as sent.
    assert len(central.seqs(STATION)) == kiosk_counts(kiosk)[1]


def test_tail_deletion_after_sync_fails_audit_verify(
    kiosk: KioskContext, central: CentralUnderTest
) -> None:
    seeded = ledger_head(kiosk)
    relay_for(kiosk, central).drain()
    assert_in_step(kiosk, central)
    with kiosk.sessions.begin() as s:
        tail = s.scalars(select(Event).order_by(Event.seq.desc()).limit(3)).all()
        ids = [e.id for e in tail[:2]]
        s.execute(delete(OutboxRow).where(OutboxRow.event_id.in_(ids)))
        s.execute(delete(Event).where(Event.id.in_(ids)))
        s.execute(update(ChainHead).values(seq=tail[2].seq, hash=tail[2].hash))
    config = write_config(kiosk.config.station.data_dir, central.url)
    verify = subprocess.run(
        [*KIOSK, "--config", str(config), "audit", "verify"], capture_output=True, text=True
    )
    assert verify.returncode == 1
    assert f"acknowledged seq {seeded}" in verify.stderr and "deleted here" in verify.stderr


def test_sync_process_killed_mid_batch_and_restarted(
    kiosk: KioskContext, central: CentralUnderTest
) -> None:
    add_events(kiosk, 40)
    total = ledger_head(kiosk)
    config = write_config(
        kiosk.config.station.data_dir, central.url, credential=central.credential, batch_size=10
    )
    central.proxy.actions = ["pass", "hold"]  # the second batch is stored, its answer held
    proc = subprocess.Popen([*KIOSK, "--config", str(config), "sync", "--once"])
    try:
        assert central.proxy.held.wait(timeout=60), "the sync process never sent batch 2"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        proc.kill()
    central.proxy.release.set()
    # Batch 2 is never marked sent. Batch 1's "mark sent" runs on the relay's pipeline
    # thread while batch 2 is on the wire (kiosk/sync/relay.py), so the kill may come before
    # or after it was written: at most one acknowledged batch is ever unrecorded.
    marked = kiosk_counts(kiosk)[1]
    assert marked in (0, 10)
    again = subprocess.run(
        [*KIOSK, "--config", str(config), "sync", "--once"], capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    # What was not marked comes back as held (stored once), the rest is new.
    assert f"({total - 20} new, {20 - marked} already held)" in again.stdout
    assert_in_step(kiosk, central)


def test_tap_and_door_while_central_answers_after_30s(
    kiosk: KioskContext, central: CentralUnderTest
) -> None:
    """The sync process has a request in flight (held by the proxy) while staff sign in,
    confiscate and the door closes: none of it waits for the ledger."""
    config = write_config(
        kiosk.config.station.data_dir,
        central.url,
        credential=central.credential,
        timeout_seconds=120,
    )
    central.proxy.actions = ["hold"]
    proc = subprocess.Popen(
        [*KIOSK, "--config", str(config), "sync", "--once"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert central.proxy.held.wait(timeout=60), "the sync process never sent its batch"
        custody = kiosk.custody
        office = custody.sign_in(*DEMO_BADGES["office"])  # the tap (badge + PIN)
        pupil = custody.find_pupils(office, "")[0]
        holding, _ = custody.confiscate(
            office,
            pupil_id=pupil.id,
            category="unauthorised_use",
            device_description="black phone",
            switched_off_confirmed=True,
        )
        custody.confirm_deposit(office, holding.id)  # the door closed on the phone
        # All of it committed while the sync process still waits for its answer. Had the
        # relay held the write lock, SQLite's busy timeout (5 s) would have run out and the
        # sign-in or the confiscation would have raised "database is locked" (no wall-time
        # bound is asserted: a loaded machine is slow, not wrong).
        assert proc.poll() is None and not central.proxy.release.is_set()
    finally:
        central.proxy.release.set()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert_in_step(kiosk, central)


def test_school_proxy_from_the_environment_is_used(
    kiosk: KioskContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP(S)_PROXY is honoured: the central log's name need not even resolve here, only
    the proxy (our TCP proxy, which forwards to the central log) is reached."""
    c = start_central("fake", kiosk.config.station.data_dir, STATION)
    try:
        for var in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("HTTP_PROXY", c.proxy.url)
        client = CentralClient(
            "http://central.school.invalid",
            c.credential,
            retry=RetryPolicy(attempts=1, sleep=Waits()),
        )
        relay = Relay(
            kiosk.sessions, client, station_id=STATION, data_dir=kiosk.config.station.data_dir
        )
        relay.drain()
        client.close()
        assert c.proxy.requests == 1
        assert_in_step(kiosk, c)
    finally:
        c.close()
