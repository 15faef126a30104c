"""kiosk.watchdog against a real AF_UNIX datagram socket standing in for systemd's."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk import watchdog
from kiosk.config import parse_config
from kiosk.context import open_context


@pytest.fixture
def systemd_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10)  # a failure bound only: the datagram is already queued when we read
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_ready_watchdog_stopping_arrive_in_order(systemd_socket: socket.socket) -> None:
    assert watchdog.notify_ready(status="station office-1 up")
    assert watchdog.notify_watchdog()
    assert watchdog.notify_stopping()
    assert systemd_socket.recv(4096) == b"READY=1\nSTATUS=station office-1 up"
    assert systemd_socket.recv(4096) == b"WATCHDOG=1"
    assert systemd_socket.recv(4096) == b"STOPPING=1"


def test_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"kiosk-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(10)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert watchdog.notify_ready()
        assert sock.recv(4096) == b"READY=1"


def test_without_systemd_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert watchdog.notify_ready() is False
    assert watchdog.notify_watchdog() is False


def test_a_vanished_socket_does_not_stop_the_station(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert watchdog.notify_watchdog() is False
    monkeypatch.setenv("NOTIFY_SOCKET", "relative/path")
    assert watchdog.notify_watchdog() is False


def test_watchdog_interval_is_half_of_watchdogsec() -> None:
    pid = str(os.getpid())
    assert watchdog.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": pid}) == 15.0
    assert watchdog.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog.watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog.watchdog_interval({}) is None
    assert watchdog.watchdog_interval({"WATCHDOG_USEC": "0"}) is None


def test_signage_page_loop_says_ready_then_feeds_the_watchdog(
    systemd_socket: socket.socket, tmp_path: Path
) -> None:
    """The real ``kiosk signage-page`` process, as systemd runs it with WatchdogSec=."""
    data = tmp_path / "station"
    data.mkdir()
    cfg = data / "kiosk.toml"
    cfg.write_text('[station]\nid = "wd-test"\ndata_dir = "."\n')
    open_context(parse_config({"station": {"data_dir": str(data)}}), migrate=True).close()
    env = {
        **os.environ,
        "KIOSK_CONFIG": str(cfg),
        "WATCHDOG_USEC": "200000",  # ping every 0.1 s: the test need not wait long
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from kiosk.cli import main; main()",
            "signage-page",
            "--out",
            str(tmp_path / "public"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert systemd_socket.recv(4096) == b"READY=1"
        assert (tmp_path / "public" / "index.html").exists(), "ready only after the first page"
        assert systemd_socket.recv(4096) == b"WATCHDOG=1"
        assert systemd_socket.recv(4096) == b"WATCHDOG=1"
    finally:
        proc.kill()
        proc.communicate(timeout=60)
