"""``kiosk sync`` commands and the ``audit verify`` anchor check, through the real CLI."""

from __future__ import annotations

import gc
import socket
import weakref

from click.testing import CliRunner
from sqlalchemy import delete, select, update
from sync_testing import Rig, add_events, ledger_head, write_config

from db.models import ChainHead, Event, OutboxRow
from kiosk.cli import main
from kiosk.config import load_config


def closed_port() -> int:
    """A local port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(config, *args: str):
    return CliRunner().invoke(main, ["--config", str(config), *args])


def test_status_shows_backlog_and_no_anchor_yet(rig: Rig) -> None:
    config = write_config(rig.kiosk.config.station.data_dir, "https://central.test")
    result = run(config, "sync", "status")
    assert result.exit_code == 0, result.output
    assert f"backlog:        {ledger_head(rig.kiosk)} event(s)" in result.output
    assert "anchor:         none" in result.output


def test_status_after_a_drain_shows_the_anchor(rig: Rig) -> None:
    rig.relay.drain()
    config = write_config(rig.kiosk.config.station.data_dir, "https://central.test")
    result = run(config, "sync", "status")
    assert "backlog:        0 event(s)" in result.output
    assert (
        f"anchor:         seq {ledger_head(rig.kiosk)} hash {rig.central.head('demo-office').hash}"
        in result.output
    )


def test_group_readable_credential_is_refused_naming_the_file(rig: Rig) -> None:
    data_dir = rig.kiosk.config.station.data_dir
    config = write_config(data_dir, f"http://127.0.0.1:{closed_port()}", mode=0o640)
    result = run(config, "sync", "--once")
    assert result.exit_code == 2
    assert str(data_dir / "central.credential") in result.output
    assert "chmod 600" in result.output


def test_batch_size_above_the_wire_limit_is_refused(rig: Rig) -> None:
    config = write_config(rig.kiosk.config.station.data_dir, "https://c.test", batch_size=501)
    result = run(config, "sync", "status")
    assert result.exit_code == 2
    assert "sync.batch_size" in result.output and "501" in result.output


def test_sync_section_is_read_and_paths_resolved_beside_the_config(rig: Rig) -> None:
    data_dir = rig.kiosk.config.station.data_dir
    config = write_config(data_dir, "https://central.test/", batch_size=50)
    cfg = load_config(config)
    assert cfg.sync.batch_size == 50 and cfg.sync.central_url == "https://central.test"
    assert cfg.sync.resolved(config.parent).credential_file == data_dir / "central.credential"


def test_once_exits_non_zero_when_central_is_unreachable(rig: Rig) -> None:
    config = write_config(
        rig.kiosk.config.station.data_dir, f"http://127.0.0.1:{closed_port()}", attempts=1
    )
    result = run(config, "sync", "--once")
    assert result.exit_code == 1
    assert f"{ledger_head(rig.kiosk)} left" in result.output and "unreachable" in result.output


def test_audit_verify_fails_when_synced_events_are_deleted(rig: Rig) -> None:
    seeded = ledger_head(rig.kiosk)
    add_events(rig.kiosk, 2)
    rig.relay.drain()
    config = write_config(rig.kiosk.config.station.data_dir, "https://central.test")
    assert run(config, "audit", "verify").exit_code == 0
    with rig.kiosk.sessions.begin() as s:
        last_two = s.scalars(select(Event).order_by(Event.seq.desc()).limit(3)).all()
        gone = [e.id for e in last_two[:2]]
        s.execute(delete(OutboxRow).where(OutboxRow.event_id.in_(gone)))
        s.execute(delete(Event).where(Event.id.in_(gone)))
        s.execute(update(ChainHead).values(seq=last_two[2].seq, hash=last_two[2].hash))
    result = run(config, "audit", "verify")
    assert result.exit_code == 1
    assert f"acknowledged seq {seeded + 2}" in result.output
    assert f"ends at seq {seeded}" in result.output


def test_daemon_stops_on_sigterm_even_while_backing_off(rig: Rig) -> None:
    """``kiosk sync`` (the systemd service) backs off while the central log is down; SIGTERM
    ends it at once, not after the backoff."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    config = write_config(
        rig.kiosk.config.station.data_dir, f"http://127.0.0.1:{closed_port()}", attempts=3
    )
    kiosk = str(Path(sys.executable).parent / "kiosk")
    proc = subprocess.Popen(
        [kiosk, "--config", str(config), "sync"], stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait for the first failed attempt (output, not a clock)
            if "attempt 1 failed" in line:
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_sync_in_process_leaves_the_callers_garbage_collectable(rig: Rig) -> None:
    """``kiosk sync`` freezes the heap it starts with (gc.freeze: the collector's full passes
    skip it); run in-process (a test, an embedding caller) it must not make the caller's
    garbage immortal. The collector is off while the cycle is garbage, so no automatic pass
    decides the outcome."""
    config = write_config(
        rig.kiosk.config.station.data_dir, f"http://127.0.0.1:{closed_port()}", attempts=1
    )
    frozen = gc.get_freeze_count()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        garbage = weakref.ref(_Cycle())
        assert garbage() is not None  # a cycle: only the collector frees it
        result = run(config, "sync", "--once")
        assert result.exit_code == 1, result.output
    finally:
        if was_enabled:
            gc.enable()
    gc.collect()
    assert garbage() is None
    assert gc.get_freeze_count() == frozen
