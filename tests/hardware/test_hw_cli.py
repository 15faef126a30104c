"""``kiosk hw`` with click's CliRunner, against the simulator."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from dataclasses import replace

import pytest
from click.testing import CliRunner

from hardware.bundle import HardwareSpec
from hardware.gpio_locks import LockTimings
from hardware.rs485 import BusTimings
from kiosk.demo import DEMO_BADGES, demo_config, seed_demo
from kiosk.hardware_config import default_config
from kiosk.hw_commands import hw
from kiosk.runtime import close_station, open_station


def fast_config() -> HardwareSpec:
    return replace(
        default_config(),
        lock_timings=LockTimings(pulse_s=0.02, confirm_timeout_s=0.2, poll_s=0.005),
        bus_timings=BusTimings(reply_timeout_s=0.03, spacing_s=0.001),
    )


def test_hw_list_default_config() -> None:
    result = CliRunner().invoke(hw, ["list"])
    assert result.exit_code == 0, result.output
    assert "desk: RC522" in result.output
    assert "A: GPIO, 8 lockers" in result.output
    assert "B: RS-485" in result.output and "4 lockers" in result.output


TECH_BADGE, TECH_PIN = DEMO_BADGES["technician"]


@pytest.fixture(scope="module")
def ledger_template(tmp_path_factory):
    """A seeded demo school (staff with PINs, phones held in some lockers), copied per test."""
    folder = tmp_path_factory.mktemp("hw-ledger")
    seed_demo(folder).close()
    return folder


@pytest.fixture
def station_config(tmp_path, ledger_template):
    target = tmp_path / "school"
    shutil.copytree(ledger_template, target)
    cfg = demo_config(target)
    fast = replace(
        cfg.hardware,
        lock_timings=LockTimings(pulse_s=0.02, confirm_timeout_s=0.2, poll_s=0.005),
        bus_timings=BusTimings(reply_timeout_s=0.03, spacing_s=0.001),
    )
    return cfg.model_copy(update={"hardware": fast})


def hw_test(cfg, *args, badge=TECH_BADGE, pin=TECH_PIN):
    argv = ["test", "--simulate", *args] + (["--badge", badge] if badge else [])
    return CliRunner().invoke(hw, argv, obj={"config": cfg}, input=f"{pin}\n")


def _ledger(cfg) -> sqlite3.Connection:
    return sqlite3.connect(cfg.station.data_dir / "kiosk.db")


def _occupied(cfg) -> set[str]:
    """Lockers with a phone on record (any open holding)."""
    with closing(_ledger(cfg)) as con:
        rows = con.execute(
            "SELECT l.bank || l.number FROM holdings h JOIN lockers l ON l.id = h.locker_id "
            "WHERE h.state IN ('depositing', 'held', 'releasing', 'safeguarding_hold')"
        ).fetchall()
    return {r[0] for r in rows}


def _events(cfg, type_: str) -> list[tuple[int | None, dict]]:
    with closing(_ledger(cfg)) as con:
        rows = con.execute(
            "SELECT actor_id, payload FROM events WHERE type = ? ORDER BY id", (type_,)
        ).fetchall()
    return [(actor, json.loads(payload)) for actor, payload in rows]


def _technician_id(cfg) -> int:
    with closing(_ledger(cfg)) as con:
        return con.execute("SELECT id FROM staff WHERE badge_uid = ?", (TECH_BADGE,)).fetchone()[0]


def test_hw_test_simulate_passes_skips_occupied_lockers_and_records_every_pulse(station_config):
    occupied = _occupied(station_config)
    assert occupied, "the demo school holds phones"
    result = hw_test(station_config)
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    assert "reader desk tap" in result.output and "read C0FFEE01" in result.output
    unlock_lines = {
        ln.split()[1]: ln
        for ln in result.output.splitlines()
        if ln.startswith("lock ") and " unlock " in ln
    }
    assert len(unlock_lines) >= 12
    for label in occupied:  # never pulsed: a phone (or evidence) is inside
        assert "SKIP" in unlock_lines[label] and "phone(s) on record" in unlock_lines[label]
    tech = _technician_id(station_config)
    before = _events(station_config, "hardware.test_unlock")
    after = _events(station_config, "hardware.test_unlock_result")
    tested = {p["locker"] for _a, p in before}
    assert tested == set(unlock_lines) - occupied
    assert {p["locker"] for _a, p in after} == tested
    assert {a for a, _p in before + after} == {tech}  # every pulse names the technician
    assert all(p["outcome"] == "opened" for _a, p in after)
    # The sign-in and the sign-out are recorded too.
    assert any(a == tech for a, _p in _events(station_config, "auth.signed_in"))
    assert any(a == tech for a, _p in _events(station_config, "auth.signed_out"))


def test_hw_test_never_opens_an_out_of_service_locker(station_config):
    free = sorted({"A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8"} - _occupied(station_config))[0]
    with closing(_ledger(station_config)) as con, con:
        con.execute("UPDATE lockers SET state = 'out_of_service' WHERE bank || number = ?", (free,))
    result = hw_test(station_config)
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith(f"lock {free} unlock"))
    assert "SKIP" in line and "out of service" in line
    assert free not in {p["locker"] for _a, p in _events(station_config, "hardware.test_unlock")}


@pytest.mark.parametrize(
    ("badge", "pin", "words"),
    [
        (None, TECH_PIN, "needs a member of staff's sign-in: add --badge UID"),
        (TECH_BADGE, "000000", "Wrong PIN, or this badge is not registered."),
        ("FFFF0000", TECH_PIN, "Wrong PIN, or this badge is not registered."),
        (DEMO_BADGES["office"][0], DEMO_BADGES["office"][1], "may not hardware test"),
    ],
    ids=["no-badge", "wrong-pin", "unknown-badge", "not-a-technician"],
)
def test_hw_test_needs_a_signed_in_technician(station_config, badge, pin, words):
    result = hw_test(station_config, badge=badge, pin=pin)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert _events(station_config, "hardware.test_unlock") == []  # nothing pulsed


def test_hw_test_refused_while_a_station_runs(station_config):
    station = open_station(station_config, simulate=True)
    try:
        result = hw_test(station_config)
    finally:
        close_station(station)
    assert result.exit_code == 2
    assert "in use by pid" in result.output and "kiosk station" in result.output
    assert _events(station_config, "hardware.test_unlock") == []
    # Once the station has stopped, the test runs.
    assert hw_test(station_config).exit_code == 0


def test_hw_test_jammed_lock_fails(station_config):
    free_b = sorted({"B1", "B2", "B3"} - _occupied(station_config))[0]
    result = hw_test(station_config, "--sim-jam", f"B:{free_b[1:]}")
    assert result.exit_code == 1, result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith(f"lock {free_b} unlock"))
    assert "FAIL" in line and "jammed" in line
    outcomes = {
        p["locker"]: p["outcome"]
        for _a, p in _events(station_config, "hardware.test_unlock_result")
    }
    assert outcomes[free_b] == "jammed"


def test_hw_test_jammed_gpio_lock_fails(station_config):
    free_a = sorted({"A1", "A2", "A3", "A4"} - _occupied(station_config))[0]
    result = hw_test(station_config, "--sim-jam", f"A:{free_a[1:]}")
    assert result.exit_code == 1
    assert "did_not_open" in result.output


def test_hw_test_reports_poll_cost_and_bus_answer_times(station_config):
    result = hw_test(station_config)
    assert result.exit_code == 0, result.output
    cost = next(ln for ln in result.output.splitlines() if ln.startswith("reader desk poll cost"))
    transfers = int(cost.split("PASS")[1].split()[0])
    assert transfers <= 40
    board = next(ln for ln in result.output.splitlines() if ln.startswith("bus B board 0"))
    assert "PASS" in board and "answers in" in board


def test_hw_list_simulate_lists_devices() -> None:
    result = CliRunner().invoke(hw, ["list", "--simulate"])
    assert result.exit_code == 0, result.output
    assert "reader desk: MFRC522 v2.0 (0x92)" in result.output
    assert "bank B: lockers 1, 2, 3, 4" in result.output
    assert "desk: RC522" in result.output  # the configured listing still follows


def test_silent_bus_board_reported() -> None:
    from hardware.report import bus_lines
    from kiosk.hardware_config import build_hardware

    bundle = build_hardware(fast_config(), simulate=True)
    try:
        assert bundle.simulator is not None
        bundle.simulator.board_silent(True, bank="B")
        (line,) = bus_lines(bundle.bank("B"))
        assert (line.item, line.ok, line.detail) == ("bus B board 0", False, "not answering")
    finally:
        bundle.close()


def test_bundle_refuses_a_pin_used_twice() -> None:
    import pytest

    from hardware.bundle import GpioBankSpec, HardwareSpec, IndicatorSpec, build_hardware
    from hardware.gpio_locks import GpioLockSpec

    spec = HardwareSpec(
        banks=(GpioBankSpec("A", (GpioLockSpec(1, 5, 17), GpioLockSpec(2, 6, 5))),),
        indicators=IndicatorSpec(green_pin=17),
    )
    with pytest.raises(ValueError) as err:
        build_hardware(spec, simulate=True)
    msg = str(err.value)
    assert "BCM 5 used by A1 lock and A2 door" in msg
    assert "BCM 17 used by A1 door and green LED" in msg
