"""``kiosk hw``: hardware listing and self-test for technicians. Shows no pupil data at all.

The lead registers :data:`hw` in kiosk/cli.py. The config loader puts a validated
:class:`~hardware.bundle.HardwareSpec` in ``ctx.obj["hardware_config"]``; without one we
use the default simulated layout so the command is usable on a bare checkout.
"""

from __future__ import annotations

import queue
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from hardware.bundle import (
    GpioBankSpec,
    HardwareBundle,
    HardwareSpec,
    HardwareUnavailable,
    RC522Spec,
)
from hardware.camera import CameraUnavailable, NullCamera
from hardware.ports import BadgeTapped, DoorState, LockBank, UnlockOutcome
from hardware.report import technician_report
from kiosk.cli_auth import badge_option, needs_sign_in, signed_in
from kiosk.config import KioskConfig
from kiosk.hardware_config import build_hardware, default_config
from kiosk.hardware_lock import HardwareBusy
from kiosk.hw_checks import Check, reader_checks
from kiosk.permissions import Permission

if TYPE_CHECKING:
    from kiosk.auth import Identity
    from kiosk.station import Station

TEST_UID = "C0FFEE01"  # a made-up badge, not anybody's


def _config(ctx: click.Context) -> HardwareSpec:
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    cfg = obj.get("hardware_config")
    return cfg if isinstance(cfg, HardwareSpec) else default_config()


@click.group("hw")
def hw() -> None:
    """Hardware: list what is configured, test it."""


@hw.command("list")
@click.option("--simulate", is_flag=True, help="Also open the simulator's devices and list them.")
@click.pass_context
def hw_list(ctx: click.Context, simulate: bool) -> None:
    """Show the configured readers, lock banks, camera and indicators."""
    cfg = _config(ctx)
    if simulate:
        _list_simulated(cfg)
    click.echo("Readers:")
    for r in cfg.readers:
        if isinstance(r, RC522Spec):
            click.echo(f"  {r.name}: RC522 on SPI{r.spi_bus}.{r.spi_device}, RST BCM{r.rst_pin}")
        else:
            click.echo(f"  {r.name}: UART reader on {r.port} @ {r.baudrate}")
    click.echo("Lock banks:")
    for b in cfg.banks:
        if isinstance(b, GpioBankSpec):
            click.echo(f"  {b.name}: GPIO, {len(b.locks)} lockers")
            for lk in b.locks:
                click.echo(
                    f"    {lk.number}: lock BCM{lk.lock_pin} "
                    f"(active {'high' if lk.lock_active_high else 'low'}), "
                    f"door BCM{lk.door_pin} (pull {'up' if lk.door_pull_up else 'down'}, "
                    f"closed={'high' if lk.door_closed_high else 'low'})"
                )
        else:
            total = sum(bd.locks for bd in b.boards)
            click.echo(f"  {b.name}: RS-485 {b.port} @ {b.baudrate}, {total} lockers")
            for bd in b.boards:
                click.echo(
                    f"    board {bd.address}: {bd.locks} locks, "
                    f"door_closed_bit={bd.door_closed_bit}"
                )
    click.echo(f"Camera: {cfg.camera}")
    ind = cfg.indicators
    click.echo(f"Indicators: green={ind.green_pin} red={ind.red_pin} buzzer={ind.buzzer_pin}")


def _list_simulated(cfg: HardwareSpec) -> None:
    """What the simulator builds from this config, as the devices themselves report it."""
    bundle = build_hardware(cfg, simulate=True)
    try:
        click.echo("Simulated devices:")
        for reader in bundle.readers:
            click.echo(f"  reader {reader.name}: {reader.version()}")
        for bank in bundle.lock_banks:
            click.echo(f"  bank {bank.name}: lockers {', '.join(map(str, bank.numbers()))}")
        click.echo(f"  camera: {bundle.camera.describe()}")
    finally:
        bundle.close()


@hw.command("test")
@click.option("--simulate", is_flag=True, help="Run against the simulator, not the Pi.")
@click.option(
    "--tap-timeout",
    type=float,
    default=15.0,
    show_default=True,
    help="Seconds to wait for a badge on each reader.",
)
@click.option(
    "--close-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for each door to be shut again after it opens.",
)
@click.option(
    "--sim-jam",
    multiple=True,
    metavar="BANK:N",
    help="(simulation) jam a locker before testing, to see a failure.",
)
@badge_option
@click.pass_context
def hw_test(
    ctx: click.Context,
    simulate: bool,
    tap_timeout: float,
    close_timeout: float,
    sim_jam: tuple[str, ...],
    badge: str | None,
) -> None:
    """Test every reader, lock, door sensor, the camera and the indicators.

    Needs a signed-in technician (--badge and the PIN), recorded as the actor of every test
    pulse. Goes through the station's own checks, the same as the technician screen: refused
    while a station (``kiosk run``, with or without the UI) owns the hardware (the same
    lock the station takes), and a locker that holds a phone on record or is out of service
    is never opened (shown as SKIP).
    """
    from kiosk.context import NotReady
    from kiosk.runtime import close_station, open_station

    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    config = obj.get("config")
    if not isinstance(config, KioskConfig):
        _fail("`kiosk hw test` needs the station's config (--config FILE or $KIOSK_CONFIG)")
    if not badge:
        _fail(needs_sign_in("hw test", Permission.HARDWARE_TEST))
    hardware = obj.get("hardware_config")
    if isinstance(hardware, HardwareSpec) and hardware is not config.hardware:
        config = config.model_copy(update={"hardware": hardware})
    try:
        station = open_station(config, simulate=simulate, purpose="kiosk hw test")
    except (HardwareUnavailable, HardwareBusy, NotReady) as exc:
        _fail(str(exc))
    checks: list[Check] = []
    try:
        with signed_in(station.ctx, badge, Permission.HARDWARE_TEST, command="hw test") as me:
            bundle = station.hardware
            sim = bundle.simulator
            if sim is not None:
                for item in sim_jam:
                    bank, _, num = item.partition(":")
                    sim.jam(bank, int(num))
            checks += [
                Check(ln.item, ln.ok, ln.detail)
                for ln in technician_report(bundle, include_version=False)
            ]
            checks += _test_readers(bundle, tap_timeout if sim is None else min(tap_timeout, 3.0))
            checks += _test_locks(station, me, close_timeout)
            checks += _test_camera(bundle)
            checks += _test_indicators(bundle)
    finally:
        close_station(station)
    width = max(len(c.item) for c in checks) if checks else 10
    click.echo(f"{'item':<{width}}  result  detail")
    for c in checks:
        click.echo(f"{c.item:<{width}}  {c.result:<6}  {c.detail}")
    failed = sum(not c.ok for c in checks)
    skipped = sum(c.skipped for c in checks)
    click.echo(f"{len(checks) - failed - skipped} passed, {failed} failed, {skipped} skipped")
    if failed:
        ctx.exit(1)


def _fail(message: str) -> NoReturn:
    click.echo(f"kiosk: {message}", err=True)
    sys.exit(2)


def _test_readers(bundle: HardwareBundle, tap_timeout: float) -> list[Check]:
    checks: list[Check] = []
    sim = bundle.simulator
    versions = {c.item: c for c in reader_checks(bundle.readers)}
    for reader in bundle.readers:
        checks.append(versions[f"reader {reader.name} version"])
        events: queue.Queue[object] = queue.Queue()
        reader.start(events.put)
        try:
            if sim is not None:
                uid = TEST_UID if reader.name in sim.chips else TEST_UID + "AA"
                sim.tap(uid, reader=reader.name)
            else:
                click.echo(f"Tap any badge on reader '{reader.name}' ({tap_timeout:.0f} s)...")
            deadline = time.monotonic() + tap_timeout
            got: BadgeTapped | None = None
            while got is None and time.monotonic() < deadline:
                try:
                    ev = events.get(timeout=0.05)
                except queue.Empty:
                    continue
                if isinstance(ev, BadgeTapped):
                    got = ev
            if sim is not None:
                sim.remove_card(reader.name)
        finally:
            reader.stop()
        checks.append(
            Check(
                f"reader {reader.name} tap",
                got is not None,
                f"read {got.uid}" if got else "no badge read",
            )
        )
    return checks


def _wait_state(bank: LockBank, number: int, want: DoorState, timeout: float) -> DoorState:
    deadline = time.monotonic() + timeout
    state = bank.door_state(number)
    while state is not want and time.monotonic() < deadline:
        time.sleep(0.02)
        state = bank.door_state(number)
    return state


def _test_locks(station: Station, me: Identity, close_timeout: float) -> list[Check]:
    """Every locker, one pulse each, through :meth:`Station.test_pulse` (checked, recorded)."""
    from kiosk.usecases.base import CustodyError

    checks: list[Check] = []
    sim = station.hardware.simulator
    for bank in station.hardware.lock_banks:
        for n in bank.numbers():
            item = f"lock {bank.name}{n}"
            before = bank.door_state(n)
            if before is not DoorState.CLOSED:
                hint = (
                    "sensor unreadable"
                    if before is DoorState.UNKNOWN
                    else "reads OPEN: shut the door; if it is shut, the sensor polarity is "
                    "inverted (docs/hardware.md, calibrating)"
                )
                checks.append(Check(f"{item} sensor before", False, hint))
                continue
            try:
                outcome, detail = station.test_pulse(me, bank.name, n)
            except CustodyError as refused:  # holds a phone, out of service: never pulsed
                checks.append(Check(f"{item} unlock", True, f"not opened: {refused}", True))
                continue
            checks.append(Check(f"{item} unlock", outcome is UnlockOutcome.OPENED, detail))
            if outcome is not UnlockOutcome.OPENED:
                continue
            if sim is not None:
                sim.close_door(bank.name, n)
            else:
                click.echo(f"Locker {bank.name}{n} is open: shut it ({close_timeout:.0f} s)...")
            after = _wait_state(bank, n, DoorState.CLOSED, close_timeout if sim is None else 1.0)
            checks.append(
                Check(
                    f"{item} sensor polarity",
                    after is DoorState.CLOSED,
                    "open then closed as expected"
                    if after is DoorState.CLOSED
                    else f"still reads {after.value} after shutting",
                )
            )
    return checks


def _test_camera(bundle: HardwareBundle) -> list[Check]:
    if isinstance(bundle.camera, NullCamera):
        return [Check("camera", True, "none fitted (skipped)")]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = bundle.camera.capture_still(Path(tmp) / "hw-test.jpg")
        except CameraUnavailable as exc:
            return [Check("camera", False, str(exc))]
        except Exception as exc:
            return [Check("camera", False, f"capture failed: {exc}")]
        ok = path is not None and path.exists() and path.stat().st_size > 0
        return [Check("camera", ok, "still captured (deleted)" if ok else "no image written")]


def _test_indicators(bundle: HardwareBundle) -> list[Check]:
    ind = bundle.indicators
    try:
        ind.ok()
        time.sleep(0.1)
        ind.error()
        time.sleep(0.1)
        ind.alarm(True)
        time.sleep(0.1)
        ind.alarm(False)
    except Exception as exc:
        return [Check("indicators", False, f"{exc}")]
    return [Check("indicators", True, "ok/error/alarm driven: check by eye and ear")]
