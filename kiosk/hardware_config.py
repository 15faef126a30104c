"""The ``[hardware]`` section of the kiosk TOML config, validated with pydantic v2.

Why here and not in ``hardware/``: ``hardware`` imports nothing of ours and stays free of the
config format; this module validates the TOML and converts it to ``hardware.bundle`` dataclasses.
Every model forbids unknown keys, so a typo ("pulse_sm") is an error naming the key, not a
silently ignored setting on a door lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hardware.bundle import (
    GpioBankSpec,
    HardwareBundle,
    HardwareSpec,
    IndicatorSpec,
    RC522Spec,
    RS485BankSpec,
    SerialReaderSpec,
)
from hardware.bundle import build_hardware as _build
from hardware.gpio_locks import GpioLockSpec, LockTimings
from hardware.rs485 import BoardSpec, BusTimings

Level = Literal["high", "low"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RC522ReaderConfig(_Model):
    kind: Literal["rc522"] = "rc522"
    name: str = "desk"
    spi_bus: int = Field(0, ge=0, le=6)
    spi_device: int = Field(0, ge=0, le=2)
    rst_pin: int = Field(25, ge=0, le=27, description="BCM number of the RST line")
    poll_interval_ms: int = Field(50, ge=5, le=1000)
    soft_reset_minutes: float = Field(10, gt=0)


class SerialReaderConfig(_Model):
    kind: Literal["serial"] = "serial"
    name: str
    port: str
    baud: int = 9600


ReaderConfig = Annotated[RC522ReaderConfig | SerialReaderConfig, Field(discriminator="kind")]


class GpioLockConfig(_Model):
    number: int = Field(ge=1)
    lock_pin: int = Field(ge=0, le=27)
    door_pin: int = Field(ge=0, le=27)
    lock_active: Level = "high"
    door_pull: Literal["up", "down"] = "up"
    door_closed: Level = "low"
    occupancy_pin: int | None = Field(None, ge=0, le=27)
    occupied: Level = "low"
    latch_pin: int | None = Field(None, ge=0, le=27)
    latch_locked: Level = "low"


class GpioBankConfig(_Model):
    kind: Literal["gpio"] = "gpio"
    name: str
    locks: list[GpioLockConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> GpioBankConfig:
        numbers = [lk.number for lk in self.locks]
        if len(numbers) != len(set(numbers)):
            raise ValueError(f"bank {self.name}: locker numbers repeat: {numbers}")
        pins = [
            p
            for lk in self.locks
            for p in (lk.lock_pin, lk.door_pin, lk.occupancy_pin, lk.latch_pin)
            if p is not None
        ]
        dup = sorted({p for p in pins if pins.count(p) > 1})
        if dup:
            raise ValueError(f"bank {self.name}: BCM pins used twice: {dup}")
        return self


class RS485BoardConfig(_Model):
    address: int = Field(ge=0, le=15)
    locks: int = Field(16, ge=1, le=16)
    door_closed_bit: Literal[0, 1] = 1
    occupied_bit: Literal[0, 1] | None = None


class RS485BankConfig(_Model):
    kind: Literal["rs485"] = "rs485"
    name: str
    port: str = "/dev/ttyUSB0"
    baud: int = 19200
    boards: list[RS485BoardConfig] = Field(min_length=1)


BankConfig = Annotated[GpioBankConfig | RS485BankConfig, Field(discriminator="kind")]


class TimingConfig(_Model):
    pulse_ms: int = Field(500, ge=20, le=5000)
    confirm_timeout_ms: int = Field(3000, ge=50, le=30000)
    sensor_poll_ms: int = Field(20, ge=1, le=1000)
    left_open_limit_s: float = Field(60, gt=0)
    unlock_grace_s: float = Field(5, ge=0)
    monitor_interval_ms: int = Field(200, ge=5, le=5000)
    bus_reply_timeout_ms: int = Field(150, ge=5, le=5000)
    bus_spacing_ms: int = Field(30, ge=0, le=1000)
    bus_retries: int = Field(2, ge=0, le=5)


class IndicatorConfig(_Model):
    green_pin: int | None = Field(None, ge=0, le=27)
    red_pin: int | None = Field(None, ge=0, le=27)
    buzzer_pin: int | None = Field(None, ge=0, le=27)
    buzzer_active: Level = "high"


class HardwareConfig(_Model):
    """``[hardware]``."""

    readers: list[ReaderConfig] = Field(default_factory=list)
    lock_banks: list[BankConfig] = Field(default_factory=list)
    timings: TimingConfig = Field(default_factory=TimingConfig)
    camera: Literal["none", "picamera2"] = "none"
    indicators: IndicatorConfig = Field(default_factory=IndicatorConfig)

    @model_validator(mode="after")
    def _names_unique(self) -> HardwareConfig:
        for what, names in (
            ("reader", [r.name for r in self.readers]),
            ("lock bank", [b.name for b in self.lock_banks]),
        ):
            if len(names) != len(set(names)):
                raise ValueError(f"{what} names repeat: {names}")
        return self

    def to_spec(self) -> HardwareSpec:
        t = self.timings
        readers: list[RC522Spec | SerialReaderSpec] = []
        for r in self.readers:
            if isinstance(r, RC522ReaderConfig):
                readers.append(
                    RC522Spec(
                        r.name,
                        r.spi_bus,
                        r.spi_device,
                        r.rst_pin,
                        poll_interval_s=r.poll_interval_ms / 1000,
                        soft_reset_minutes=r.soft_reset_minutes,
                    )
                )
            else:
                readers.append(SerialReaderSpec(r.name, r.port, r.baud))
        banks: list[GpioBankSpec | RS485BankSpec] = []
        for b in self.lock_banks:
            if isinstance(b, GpioBankConfig):
                banks.append(
                    GpioBankSpec(
                        b.name,
                        tuple(
                            GpioLockSpec(
                                number=lk.number,
                                lock_pin=lk.lock_pin,
                                door_pin=lk.door_pin,
                                lock_active_high=lk.lock_active == "high",
                                door_pull_up=lk.door_pull == "up",
                                door_closed_high=lk.door_closed == "high",
                                occupancy_pin=lk.occupancy_pin,
                                occupied_high=lk.occupied == "high",
                                latch_pin=lk.latch_pin,
                                latch_locked_high=lk.latch_locked == "high",
                            )
                            for lk in b.locks
                        ),
                    )
                )
            else:
                banks.append(
                    RS485BankSpec(
                        b.name,
                        b.port,
                        b.baud,
                        tuple(
                            BoardSpec(bd.address, bd.locks, bd.door_closed_bit, bd.occupied_bit)
                            for bd in b.boards
                        ),
                    )
                )
        ind = self.indicators
        return HardwareSpec(
            readers=tuple(readers),
            banks=tuple(banks),
            camera=self.camera,
            indicators=IndicatorSpec(
                ind.green_pin, ind.red_pin, ind.buzzer_pin, ind.buzzer_active == "high"
            ),
            lock_timings=LockTimings(
                t.pulse_ms / 1000, t.confirm_timeout_ms / 1000, t.sensor_poll_ms / 1000
            ),
            bus_timings=BusTimings(
                t.bus_reply_timeout_ms / 1000, t.bus_spacing_ms / 1000, t.bus_retries
            ),
            left_open_limit_s=t.left_open_limit_s,
            unlock_grace_s=t.unlock_grace_s,
            monitor_interval_s=t.monitor_interval_ms / 1000,
        )


# BCM pins of the default layout: SPI0 (7-11), UART (14/15 kept free except the buzzer, see
# docs/hardware.md), RC522 RST on 25.
_DEFAULT_LOCK_PINS = (5, 6, 12, 13, 16, 19, 20, 21)
_DEFAULT_DOOR_PINS = (17, 27, 22, 23, 24, 26, 4, 18)


def default_config() -> HardwareConfig:
    """The default (simulated) layout: RC522 "desk", GPIO bank A x8, RS-485 bank B x4."""
    return HardwareConfig(
        readers=[RC522ReaderConfig(name="desk")],
        lock_banks=[
            GpioBankConfig(
                name="A",
                locks=[
                    GpioLockConfig(number=i + 1, lock_pin=lp, door_pin=dp)
                    for i, (lp, dp) in enumerate(
                        zip(_DEFAULT_LOCK_PINS, _DEFAULT_DOOR_PINS, strict=True)
                    )
                ],
            ),
            RS485BankConfig(
                name="B", port="/dev/ttyUSB0", boards=[RS485BoardConfig(address=0, locks=4)]
            ),
        ],
        camera="none",
        indicators=IndicatorConfig(green_pin=2, red_pin=3, buzzer_pin=14),
    )


def load_hardware_config(data: dict[str, object]) -> HardwareConfig:
    """Validate the ``[hardware]`` table (already parsed from TOML)."""
    return HardwareConfig.model_validate(data)


def build_hardware(cfg: HardwareConfig, simulate: bool) -> HardwareBundle:
    """Build the hardware ports from config; ``simulate`` builds the lowest-layer fakes."""
    return _build(cfg.to_spec(), simulate=simulate)


def format_validation_error(err: ValidationError, file: str | Path) -> str:
    """One line per problem: file, dotted key under [hardware], the bad value, what is wrong."""
    lines = [f"{file}: invalid [hardware] configuration:"]
    for e in err.errors():
        key = ".".join(["hardware", *(str(p) for p in e["loc"])])
        value = e.get("input")
        shown = "" if isinstance(value, dict) else f" = {value!r}"
        lines.append(f"  {key}{shown}: {e['msg']}")
    return "\n".join(lines)
