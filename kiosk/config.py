"""The one kiosk config file (TOML), validated in one pass.

Found from ``--config``, else ``$KIOSK_CONFIG``, else the built-in demo defaults. The file is
read by :func:`policies.toml_input.read_toml` (non-UTF-8 bytes, huge numbers, deep nesting and
control characters refused with their line), the kiosk's own sections by the pydantic models
below, and ``[hardware]`` straight into the hardware dataclasses by
:mod:`kiosk.hardware_config`. Every problem names the file, the line and the dotted key, and
says what to do, as profile errors do; nothing starts on a bad file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hardware.bundle import HardwareSpec
from kiosk.hardware_config import (
    configured_lockers,
    default_config,
    pydantic_problems,
    validate_hardware,
)
from kiosk.sync.config import SyncConfig
from policies.toml_input import (
    KeyPath,
    TomlInputError,
    TomlProblem,
    dotted,
    find_line,
    read_toml,
)

ENV_VAR = "KIOSK_CONFIG"


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the config file, located like a profile problem."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file} line {self.line}: {self.message}"


class ConfigError(Exception):
    """The config file cannot be used. ``problems`` lists each as file, line, key, message;
    ``str()`` is one ``FILE line N: ...`` line per problem, as profile errors are.

    A clash (a GPIO pin or board address used twice) is reported at the second user's line
    and names the first user's line too.
    """

    def __init__(
        self,
        file: str,
        text: str,
        problems: list[tuple[KeyPath, str]],
        clashes: list[tuple[KeyPath, KeyPath, str]] | None = None,
        *,
        located: list[TomlProblem] | None = None,
    ) -> None:
        found = [
            ConfigProblem(file, find_line(text, key) if text else 1, dotted(key), msg)
            for key, msg in problems
        ]
        for key, other, msg in clashes or []:
            line, other_line = (find_line(text, key), find_line(text, other)) if text else (1, 1)
            if other_line > line:  # reported where the second user is written
                key, other, line, other_line = other, key, other_line, line
            found.append(
                ConfigProblem(
                    file, line, dotted(key), f"{msg} (also '{dotted(other)}' on line {other_line})"
                )
            )
        found += [ConfigProblem(file, p.line, dotted(p.key), p.message) for p in located or []]
        self.problems = tuple(sorted(found, key=lambda p: p.line))
        first = self.problems[0] if self.problems else ConfigProblem(file, 1, "", "")
        self.file, self.line, self.key = first.file, first.line, first.key
        super().__init__("\n".join(str(p) for p in self.problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StationConfig(_Strict):
    id: str = Field(default="office-1", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
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
    # Issue 9 (kiosk.auth, kiosk.pin_rules): the next round of wrong PINs locks for this long,
    # and the round after that until a senior leader or office administrator unlocks.
    second_lockout_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    pin_min_length: int = Field(4, ge=4, le=12)
    pin_max_length: int = Field(8, ge=4, le=12)
    #: Senior leaders and DSLs (holds, overrides, role grants) need a longer PIN.
    privileged_pin_length: int = Field(6, ge=4, le=12)
    #: How long a one-time enrolment code (first sign-in, PIN reset) works.
    enrolment_code_hours: int = Field(72, ge=1, le=14 * 24)
    #: Argon2id cost (OWASP's 7 MiB x 5 passes, rated as strong as its 19 MiB x 2 minimum;
    #: docs/auth.md), measured by bench/argon2_params.py. Less memory needs more passes.
    argon2_memory_kib: int = Field(7 * 1024, ge=7 * 1024, le=256 * 1024)
    argon2_time_cost: int = Field(5, ge=1, le=10)
    argon2_parallelism: int = Field(1, ge=1, le=4)

    @model_validator(mode="after")
    def _pin_lengths_in_order(self) -> AuthConfig:
        if not self.pin_min_length <= self.privileged_pin_length <= self.pin_max_length:
            raise ValueError(
                "auth: need pin_min_length <= privileged_pin_length <= pin_max_length, got "
                f"{self.pin_min_length}, {self.privileged_pin_length}, {self.pin_max_length}"
            )
        return self


class LockersConfig(_Strict):
    #: Doors that are exam cabinets, with how many numbered pouches each takes, e.g. {B4 = 30}.
    exam_cabinets: dict[str, int] = Field(default_factory=lambda: {"B4": 30})


class AuditConfig(_Strict):
    #: The key of the keyed chain-head anchor (kiosk.audit_anchor). Empty means
    #: ``<data_dir>/anchor.key``; on a Pi put it outside the data folder (a systemd
    #: StateDirectory or CredentialsDirectory only the kiosk user reads).
    anchor_key_file: Path | None = None


class PrinterConfig(_Strict):
    """The office's ESC/POS receipt printer (issue 14, "Receipts"); ``none``: no printer.

    ``address``: ``host[:port]`` for ``network`` (port 9100 by default), ``vendor:product``
    in hex for ``usb`` (e.g. ``04b8:0202``), the device file for ``serial`` and ``file``
    (e.g. ``/dev/usb/lp0``). ``kiosk run --simulate`` and the demo use a simulated printer.
    """

    kind: Literal["none", "network", "usb", "serial", "file"] = "none"
    address: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _address_given(self) -> PrinterConfig:
        if self.kind != "none" and not self.address.strip():
            raise ValueError(f"printer: kind = {self.kind!r} needs an address (see the docs)")
        if self.kind == "usb" and not re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", self.address):
            raise ValueError(
                f"printer: a usb address is vendor:product in hex, e.g. '04b8:0202'; "
                f"got {self.address!r}"
            )
        return self


class KioskConfig(_Strict):
    station: StationConfig = StationConfig()
    database: DatabaseConfig = DatabaseConfig()
    auth: AuthConfig = AuthConfig()
    lockers: LockersConfig = LockersConfig()
    audit: AuditConfig = AuditConfig()
    sync: SyncConfig = SyncConfig()  # the [sync] table, checked by kiosk.sync.config
    printer: PrinterConfig = PrinterConfig()
    #: Readers, lock banks, timings (``hardware.bundle`` dataclasses, validated by
    #: :mod:`kiosk.hardware_config`); without a ``[hardware]`` table, the demo layout.
    hardware: HardwareSpec = Field(default_factory=default_config)
    source: Path | None = Field(default=None, exclude=True)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.station.timezone)

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.station.data_dir / 'kiosk.db'}"

    @property
    def anchor_key_path(self) -> Path:
        return self.audit.anchor_key_file or self.station.data_dir / "anchor.key"


def _cabinet_problems(cfg: KioskConfig) -> list[tuple[KeyPath, str]]:
    doors = {f"{b}{n}" for b, n in configured_lockers(cfg.hardware)}
    found: list[tuple[KeyPath, str]] = []
    for label, capacity in cfg.lockers.exam_cabinets.items():
        where: KeyPath = ("lockers", "exam_cabinets", label)
        if label not in doors:
            found.append(
                (
                    where,
                    f"'lockers.exam_cabinets': {label!r} is not a configured door "
                    f"(doors: {', '.join(sorted(doors)) or 'none'}) — fix the label.",
                )
            )
        elif not 2 <= capacity <= 500:
            found.append((where, f"'{dotted(where)}' = {capacity}: a cabinet takes 2-500 pouches."))
    return found


def parse_config(data: dict[str, Any], origin: str = "<defaults>", text: str = "") -> KioskConfig:
    """Validate the whole file in one pass; every problem listed with its line and key.

    ``text`` is the file as written, used only to find lines (without it every problem is
    reported at line 1, as for the built-in demo config).
    """
    problems: list[tuple[KeyPath, str]] = []
    clashes: list[tuple[KeyPath, KeyPath, str]] = []
    spec = None
    if "hardware" in data:
        spec, problems, clashes = validate_hardware(data["hardware"])
    rest = {k: v for k, v in data.items() if k != "hardware"}
    cfg: KioskConfig | None = None
    try:
        cfg = KioskConfig.model_validate(rest)
    except ValidationError as err:
        problems += pydantic_problems(err, rest, KioskConfig, (), wrapped=False)
    if cfg is not None and spec is not None:
        cfg = cfg.model_copy(update={"hardware": spec})
    if cfg is not None and not problems and not clashes:
        problems = _cabinet_problems(cfg)
    if problems or clashes:
        raise ConfigError(origin, text, problems, clashes)
    assert cfg is not None
    return cfg


def load_config(path: Path | str | None = None) -> KioskConfig:
    """Load ``path``, else ``$KIOSK_CONFIG``, else the demo defaults."""
    if path is None:
        path = os.environ.get(ENV_VAR) or None
    if path is None:
        return KioskConfig()
    path = Path(path)
    try:
        text, data = read_toml(path)
    except OSError as exc:
        raise ConfigError(
            str(path), "", [((), f"cannot read the kiosk config ({exc.strerror or exc})")]
        ) from None
    except TomlInputError as exc:
        raise ConfigError(str(path), "", [], [], located=exc.problems) from None
    cfg = parse_config(data, str(path), text)
    data_dir = cfg.station.data_dir
    if not data_dir.is_absolute():
        # Relative data folders are relative to the config file, not to wherever systemd runs us.
        data_dir = (path.parent / data_dir).resolve()
    station = cfg.station.model_copy(update={"data_dir": data_dir})
    audit = cfg.audit
    if audit.anchor_key_file is not None and not audit.anchor_key_file.is_absolute():
        key = (path.parent / audit.anchor_key_file).resolve()
        audit = audit.model_copy(update={"anchor_key_file": key})
    return cfg.model_copy(update={"station": station, "source": path, "audit": audit})
