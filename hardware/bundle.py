"""Plain-data hardware description and the builder that turns it into ports.

The kiosk's pydantic config (``kiosk/hardware_config.py``) validates the TOML and converts it to
these dataclasses; ``hardware`` cannot import the kiosk (import-linter), so this is the seam.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from hardware.camera import NullCamera, PiCamera2Camera
from hardware.door_monitor import DoorMonitor, MonitoredLockBank
from hardware.gpio_locks import GpioLockBank, GpioLockSpec, LockTimings
from hardware.indicators import GpioIndicators, NullIndicators
from hardware.ports import BadgeReader, Camera, EventSink, Indicators, LockBank
from hardware.rs485 import BoardSpec, BusTimings, RS485Bus, RS485LockBank

if TYPE_CHECKING:
    from hardware.simulator import Simulator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RC522Spec:
    name: str
    spi_bus: int = 0
    spi_device: int = 0
    rst_pin: int = 25
    poll_interval_s: float = 0.12  # 120 ms: taps feel instant, fewer idle wake-ups (issue 15)
    soft_reset_minutes: float = 10.0
    health_check_s: float = 1.0


@dataclass(frozen=True)
class SerialReaderSpec:
    name: str
    port: str
    baudrate: int = 9600


@dataclass(frozen=True)
class GpioBankSpec:
    name: str
    locks: tuple[GpioLockSpec, ...]


@dataclass(frozen=True)
class RS485BankSpec:
    name: str
    port: str
    baudrate: int = 19200
    boards: tuple[BoardSpec, ...] = (BoardSpec(0),)


@dataclass(frozen=True)
class IndicatorSpec:
    green_pin: int | None = None
    red_pin: int | None = None
    buzzer_pin: int | None = None
    buzzer_active_high: bool = True


@dataclass(frozen=True)
class HardwareSpec:
    readers: tuple[RC522Spec | SerialReaderSpec, ...] = ()
    banks: tuple[GpioBankSpec | RS485BankSpec, ...] = ()
    camera: Literal["none", "picamera2"] = "none"
    indicators: IndicatorSpec = field(default_factory=IndicatorSpec)
    lock_timings: LockTimings = field(default_factory=LockTimings)
    bus_timings: BusTimings = field(default_factory=BusTimings)
    left_open_limit_s: float = 60.0
    unlock_grace_s: float = 5.0
    monitor_interval_s: float = 0.2


@dataclass
class HardwareBundle:
    """Everything the kiosk needs from the hardware, already wired.

    ``lock_banks`` are guarded by ``monitor`` (unlocks are announced, so only doors opened without
    a command raise ``ForcedOpen``). ``simulator`` is set only when built with ``simulate=True``.
    """

    readers: list[BadgeReader]
    lock_banks: list[MonitoredLockBank]
    camera: Camera
    indicators: Indicators
    monitor: DoorMonitor
    simulator: Simulator | None = None

    def bank(self, name: str) -> MonitoredLockBank:
        for bank in self.lock_banks:
            if bank.name == name:
                return bank
        raise KeyError(f"no lock bank named {name!r}")

    def reader(self, name: str) -> BadgeReader:
        for reader in self.readers:
            if reader.name == name:
                return reader
        raise KeyError(f"no reader named {name!r}")

    def start(self, on_event: EventSink) -> None:
        """Start reader threads and the door monitor; events go to ``on_event``."""
        self.monitor.on_event = on_event
        for reader in self.readers:
            reader.start(on_event)
        self.monitor.start()

    def close(self) -> None:
        """Stop threads, drive every lock off, release pins and ports. Safe to call twice."""
        self.monitor.stop()
        for reader in self.readers:
            with contextlib.suppress(Exception):
                reader.stop()
        for bank in self.lock_banks:
            try:
                bank.close()
            except Exception as exc:
                log.error("closing bank %s: %s", bank.name, exc)
        close = getattr(self.indicators, "close", None)
        if close is not None:
            close()
        if self.simulator is not None:
            self.simulator.close()


class HardwareUnavailable(RuntimeError):
    """The real hardware cannot be driven here; the message says what to do."""


def wiring_conflicts(spec: HardwareSpec) -> list[str]:
    """Every BCM pin claimed twice and every RS-485 board address used twice on one port.

    The kiosk's config loader names the file and line; this is the last line of defence for a
    spec built any other way: two users of one pin would drive a lock from a door sensor's pin.
    """
    users: dict[str, list[str]] = {}

    def claim(pin: object, who: str) -> None:
        if pin is not None:
            users.setdefault(str(pin), []).append(who)

    for r in spec.readers:
        if isinstance(r, RC522Spec):
            claim(r.rst_pin, f"reader {r.name} RST")
    ports: dict[str, dict[int, list[str]]] = {}
    for b in spec.banks:
        if isinstance(b, GpioBankSpec):
            for lk in b.locks:
                claim(lk.lock_pin, f"{b.name}{lk.number} lock")
                claim(lk.door_pin, f"{b.name}{lk.number} door")
                claim(lk.occupancy_pin, f"{b.name}{lk.number} occupancy")
                claim(lk.latch_pin, f"{b.name}{lk.number} latch")
        else:
            for bd in b.boards:
                ports.setdefault(b.port, {}).setdefault(bd.address, []).append(f"bank {b.name}")
    ind = spec.indicators
    claim(ind.green_pin, "green LED")
    claim(ind.red_pin, "red LED")
    claim(ind.buzzer_pin, "buzzer")
    out = [f"BCM {pin} used by {' and '.join(who)}" for pin, who in users.items() if len(who) > 1]
    for port, boards in ports.items():
        out += [
            f"RS-485 board address {addr} on {port} used twice ({', '.join(who)})"
            for addr, who in boards.items()
            if len(who) > 1
        ]
    return out


def build_hardware(spec: HardwareSpec, simulate: bool = False) -> HardwareBundle:
    """Build real adapters (on a Pi) or the simulator's lowest-layer fakes. Refuses a spec with
    a pin or board address used twice (:func:`wiring_conflicts`) before touching anything."""
    conflicts = wiring_conflicts(spec)
    if conflicts:
        raise ValueError("hardware wiring conflict: " + "; ".join(conflicts))
    if simulate:
        from hardware.simulator import Simulator

        return Simulator(spec).bundle
    readers: list[BadgeReader] = []
    banks: list[LockBank] = []
    # Imported here, not with the specs that every config load reads (issue 15).
    from gpiozero.exc import BadPinFactory, PinFactoryFallback, PinUnknownPi

    # gpiozero warns once per pin factory it tries; the outcome (or HardwareUnavailable) is
    # what matters, and the warnings would land on the staff UI's terminal.
    warnings.simplefilter("ignore", PinFactoryFallback)
    try:
        for r in spec.readers:
            if isinstance(r, RC522Spec):
                from hardware.rc522 import RC522Reader

                readers.append(
                    RC522Reader(
                        r.name,
                        bus=r.spi_bus,
                        device=r.spi_device,
                        rst_pin=r.rst_pin,
                        poll_interval_s=r.poll_interval_s,
                        soft_reset_s=r.soft_reset_minutes * 60,
                        health_check_s=r.health_check_s,
                    )
                )
            else:
                from hardware.serial_reader import SerialBadgeReader

                readers.append(SerialBadgeReader(r.name, r.port, r.baudrate))
        for b in spec.banks:
            if isinstance(b, GpioBankSpec):
                banks.append(GpioLockBank(b.name, b.locks, spec.lock_timings))
            else:
                bus = RS485Bus(b.port, b.baudrate, spec.bus_timings)
                banks.append(RS485LockBank(b.name, bus, b.boards, spec.lock_timings))
        ind = spec.indicators
        indicators: Indicators = (
            GpioIndicators(
                ind.green_pin,
                ind.red_pin,
                ind.buzzer_pin,
                buzzer_active_high=ind.buzzer_active_high,
            )
            if any(p is not None for p in (ind.green_pin, ind.red_pin, ind.buzzer_pin))
            else NullIndicators()
        )
    except Exception as exc:
        for bank in banks:
            with contextlib.suppress(Exception):
                bank.close()
        if isinstance(exc, BadPinFactory | PinUnknownPi):
            raise HardwareUnavailable(
                "no Raspberry Pi GPIO on this machine (gpiozero found no pin factory). On a Pi, "
                "install the `pi` extra (it brings rpi-lgpio, needed on a Pi 5); elsewhere use "
                "`kiosk run --simulate` or `kiosk demo`."
            ) from exc
        raise
    camera: Camera = PiCamera2Camera() if spec.camera == "picamera2" else NullCamera()
    return assemble(spec, readers, banks, camera, indicators, None)


def assemble(
    spec: HardwareSpec,
    readers: list[BadgeReader],
    banks: list[LockBank],
    camera: Camera,
    indicators: Indicators,
    simulator: Simulator | None,
) -> HardwareBundle:
    monitor = DoorMonitor(
        banks,
        left_open_limit_s=spec.left_open_limit_s,
        unlock_grace_s=spec.unlock_grace_s,
        interval_s=spec.monitor_interval_s,
    )
    return HardwareBundle(
        readers=readers,
        lock_banks=[monitor.guard(b) for b in banks],
        camera=camera,
        indicators=indicators,
        monitor=monitor,
        simulator=simulator,
    )
