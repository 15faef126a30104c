"""systemd's watchdog is fed by the station only while its door monitor reads the doors.

A real AF_UNIX datagram socket stands in for systemd's ``NOTIFY_SOCKET``; no sleeps: the
test calls the tick itself and moves the monitor's injected clock.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from kiosk_testing import Clock, Ticker

from hardware.door_monitor import DoorMonitor
from kiosk.demo import demo_config
from kiosk.runtime import close_station, open_station
from kiosk.service import StationService


@pytest.fixture
def systemd_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def _received(sock: socket.socket) -> list[bytes]:
    got = []
    while True:
        try:
            got.append(sock.recv(4096))
        except BlockingIOError:
            return got


def test_a_live_station_pings_and_a_stopped_one_does_not(
    tmp_path: Path, demo_template: Path, systemd_socket: socket.socket
) -> None:
    target = tmp_path / "st"
    shutil.copytree(demo_template, target)
    st = open_station(demo_config(target), simulate=True, clock=Clock(), monotonic=Ticker())
    svc = StationService(st)
    try:
        assert not svc.watchdog_tick(60.0), "not started: no ping"
        svc.start()
        st.hardware.monitor.poll()
        assert svc.watchdog_tick(3600.0)
        assert _received(systemd_socket) == [b"WATCHDOG=1"]
        svc.stop()
        assert not svc.watchdog_tick(3600.0)
        assert _received(systemd_socket) == []
    finally:
        svc.stop()
        svc.join()
        close_station(st)


def test_monitor_reports_how_long_since_it_read_every_door() -> None:
    now = [100.0]
    monitor = DoorMonitor([], clock=lambda: now[0])
    assert monitor.seconds_since_poll() is None, "never polled: not alive"
    monitor.poll()
    now[0] += 45.0
    assert monitor.seconds_since_poll() == 45.0


def test_a_silent_monitor_stops_the_pings(
    tmp_path: Path, demo_template: Path, systemd_socket: socket.socket
) -> None:
    target = tmp_path / "st"
    shutil.copytree(demo_template, target)
    st = open_station(demo_config(target), simulate=True, clock=Clock(), monotonic=Ticker())
    svc = StationService(st)
    try:
        svc.start()
        st.hardware.monitor.poll()
        assert svc.watchdog_tick(3600.0)
        _received(systemd_socket)
        # A hung bus: the monitor's last full read is older than the watchdog interval.
        assert not svc.watchdog_tick(-1.0)
        assert _received(systemd_socket) == []
    finally:
        svc.stop()
        svc.join()
        close_station(st)
