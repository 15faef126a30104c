"""The one kiosk config file (TOML), validated with pydantic.

Found from ``--config``, else ``$KIOSK_CONFIG``, else the built-in demo defaults. Errors name
the file, the dotted key, the value given and what to do, and nothing starts on a bad file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kiosk.hardware_config import HardwareConfig, default_config
from kiosk.lockers import configured_lockers
from kiosk.sync.config import SyncConfig

ENV_VAR = "KIOSK_CONFIG"


class ConfigError(Exception):
    """The config file cannot be used; the message says where and what to do."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StationConfig(_Strict):
    id: str = Field("office-1", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = "School office"
    timezone: str = "Europe/London"
    #: A profile name from ``kiosk policy show`` or a path to a .toml profile.
    profile: str = "default"
    data_dir: Path = Path("kiosk-data")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use e.g. 'Europe/London'") from exc
        return value


class DatabaseConfig(_Strict):
    #: Empty means ``sqlite:///<data_dir>/kiosk.db``.
    url: str = ""


class AuthConfig(_Strict):
    max_failed_pins: int = Field(5, ge=1, le=20)
    lockout_minutes: int = Field(15, ge=1, le=24 * 60)
    idle_lock_seconds: int = Field(90, ge=10, le=3600)


class LockersConfig(_Strict):
    #: Doors that are exam cabinets, with how many numbered pouches each takes, e.g. {B4 = 30}.
    exam_cabinets: dict[str, int] = Field(default_factory=lambda: {"B4": 30})


class KioskConfig(_Strict):
    station: StationConfig = StationConfig()
    database: DatabaseConfig = DatabaseConfig()
    auth: AuthConfig = AuthConfig()
    lockers: LockersConfig = LockersConfig()
    sync: SyncConfig = SyncConfig()  # the [sync] table, checked by kiosk.sync.config
    #: Readers, lock banks, timings; without a ``[hardware]`` table, the demo layout.
    hardware: HardwareConfig = Field(default_factory=default_config)
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _cabinets_exist(self) -> KioskConfig:
        doors = {f"{b}{n}" for b, n in configured_lockers(self.hardware)}
        for label, capacity in self.lockers.exam_cabinets.items():
            if label not in doors:
                raise ValueError(
                    f"lockers.exam_cabinets: {label!r} is not a configured door "
                    f"(doors: {', '.join(sorted(doors)) or 'none'})"
                )
            if not 2 <= capacity <= 500:
                raise ValueError(f"lockers.exam_cabinets.{label}: capacity {capacity} not 2-500")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.station.timezone)

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.station.data_dir / 'kiosk.db'}"


def _describe(err: ValidationError, origin: str) -> str:
    lines = [f"{origin}: the kiosk config has {err.error_count()} problem(s):"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"  - unknown key '{key}': remove it or check its spelling")
        elif e["type"] == "missing":
            lines.append(f"  - missing key '{key}'")
        else:
            lines.append(f"  - '{key}' = {e.get('input')!r}: {e['msg']}")
    return "\n".join(lines)


def parse_config(data: dict[str, Any], origin: str = "<defaults>") -> KioskConfig:
    try:
        return KioskConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_describe(err, origin)) from None


def load_config(path: Path | str | None = None) -> KioskConfig:
    """Load ``path``, else ``$KIOSK_CONFIG``, else the demo defaults."""
    if path is None:
        path = os.environ.get(ENV_VAR) or None
    if path is None:
        return KioskConfig()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the kiosk config ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    cfg = parse_config(data, str(path))
    data_dir = cfg.station.data_dir
    if not data_dir.is_absolute():
        # Relative data folders are relative to the config file, not to wherever systemd runs us.
        data_dir = (path.parent / data_dir).resolve()
    station = cfg.station.model_copy(update={"data_dir": data_dir})
    return cfg.model_copy(update={"station": station, "source": path})
