"""The ``[hardware]`` table of ``kiosk.toml``, validated straight into ``hardware.bundle``.

Why no models of our own: the hardware layer already describes a reader, a lock bank, a board
and their timings as frozen dataclasses (``hardware.bundle.HardwareSpec`` and what it holds).
A second set of pydantic models mirroring them field for field drifted (``health_check_s``
could not be set from the file). So the TOML keys *are* the dataclass fields, pydantic
validates the table into those dataclasses directly (types, defaults and allowed keys all come
from them), and this module adds only what the dataclasses cannot say:

- which dataclass a ``[[hardware.readers]]`` or ``[[hardware.banks]]`` block is (``kind``);
- value ranges (:data:`RANGES`), keyed by field name, checked against the dataclasses in a test
  so a renamed field cannot leave a stale range behind;
- the checks that span the whole table: a GPIO pin used twice (lock, door sensor, latch,
  occupancy, LEDs, buzzer, a reader's reset line and the SPI/UART pins it occupies), two
  boards with the same address on one RS-485 bus, a serial port opened twice, names repeated.

Every problem is a (key path, message) pair; :mod:`kiosk.config` turns the path into the
file's line.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

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
from hardware.gpio_locks import GpioLockSpec
from hardware.rs485 import BoardSpec
from policies.toml_input import KeyPath, dotted


def configured_lockers(hardware: HardwareSpec) -> list[tuple[str, int]]:
    """(bank, number) of every door; RS-485 boards number on across boards, as the bank does.

    Here rather than in :mod:`kiosk.lockers` (which needs SQLAlchemy): loading a config checks
    its exam cabinets against these doors, and must not import the database (issue 15).
    """
    doors: list[tuple[str, int]] = []
    for bank in hardware.banks:
        if isinstance(bank, GpioBankSpec):
            doors += [(bank.name, lock.number) for lock in bank.locks]
        else:
            total = sum(board.locks for board in bank.boards)
            doors += [(bank.name, n) for n in range(1, total + 1)]
    return doors


#: ``kind = "..."`` of a ``[[hardware.readers]]`` / ``[[hardware.banks]]`` block.
READER_KINDS: dict[str, type[Any]] = {"rc522": RC522Spec, "serial": SerialReaderSpec}
BANK_KINDS: dict[str, type[Any]] = {"gpio": GpioBankSpec, "rs485": RS485BankSpec}
Problems = list[tuple[KeyPath, str]]


@dataclasses.dataclass(frozen=True)
class Range:
    """Allowed values of every field with this name, and why."""

    low: float
    high: float
    what: str
    whole: bool = False


_PIN = Range(0, 27, "a BCM GPIO number 0-27 (docs/hardware.md has the wiring)", whole=True)
#: Field name -> allowed range. Names ending in ``_pin`` share :data:`_PIN`.
RANGES: dict[str, Range] = {
    "spi_bus": Range(0, 6, "an SPI bus number 0-6", whole=True),
    "spi_device": Range(0, 2, "an SPI chip-select 0-2", whole=True),
    "poll_interval_s": Range(0.005, 1, "seconds between reader polls, 0.005-1"),
    "soft_reset_minutes": Range(0.1, 24 * 60, "minutes between reader resets, 0.1-1440"),
    "health_check_s": Range(0.05, 60, "seconds between reader health checks, 0.05-60"),
    "baudrate": Range(1200, 1_000_000, "a serial speed, e.g. 9600 or 19200", whole=True),
    "number": Range(1, 999, "a locker number 1-999", whole=True),
    "address": Range(0, 15, "a board address 0-15 (the board's DIP switches)", whole=True),
    "locks": Range(1, 16, "how many locks the board drives, 1-16", whole=True),
    "door_closed_bit": Range(0, 1, "the status bit value meaning closed, 0 or 1", whole=True),
    "occupied_bit": Range(0, 1, "the sensor bit value meaning occupied, 0 or 1", whole=True),
    # A lock is pulsed, never held: a long pulse burns the solenoid.
    "pulse_s": Range(0.02, 5, "the lock pulse in seconds, 0.02-5"),
    "confirm_timeout_s": Range(0.05, 30, "seconds to wait for the door to open, 0.05-30"),
    "poll_s": Range(0.001, 1, "seconds between door sensor reads, 0.001-1"),
    "reply_timeout_s": Range(0.005, 5, "seconds to wait for a board's reply, 0.005-5"),
    "spacing_s": Range(0, 1, "seconds of quiet between bus commands, 0-1"),
    "retries": Range(0, 5, "extra attempts of a status query, 0-5", whole=True),
    "left_open_limit_s": Range(1, 3600, "seconds before a left_open alarm, 1-3600"),
    "unlock_grace_s": Range(0, 600, "seconds a door may open after an unlock, 0-600"),
    "monitor_interval_s": Range(0.005, 5, "seconds between door sweeps, 0.005-5"),
}
_NAME = re.compile(r"[A-Za-z0-9_-]{1,20}")
#: Pins an SPI bus occupies whatever is on it: MISO, MOSI, SCLK and the chip select in use.
_SPI_PINS = {0: (9, 10, 11), 1: (19, 20, 21)}
_SPI_CE = {(0, 0): 8, (0, 1): 7, (1, 0): 18, (1, 1): 17, (1, 2): 16}
#: The Pi's own UART (TXD, RXD) under the names it goes by.
_UART_PORTS = {"/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0"}


class _Strict(BaseModel):
    """Wraps one dataclass so pydantic validates into it with unknown keys forbidden."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


_WRAPPERS: dict[type[Any], type[_Strict]] = {
    cls: create_model(f"_{cls.__name__}", __base__=_Strict, value=(cls, ...))
    for cls in (*READER_KINDS.values(), *BANK_KINDS.values(), HardwareSpec)
}


def _validate_into(cls: type[Any], table: dict[str, Any]) -> Any:
    """``table`` as an instance of the dataclass ``cls``; raises ``ValidationError``."""
    return _WRAPPERS[cls].model_validate({"value": table}).value  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- messages


def _short(value: object) -> str:
    text = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def fields_of(cls: type[Any]) -> list[str]:
    """The keys a dataclass or pydantic model accepts, in declaration order."""
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls)]
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return list(cls.model_fields)
    return []


def _type_at(root: type[Any], path: KeyPath) -> type[Any] | None:
    """The class whose keys are allowed at ``path`` below ``root`` (None if not a table)."""
    current: Any = root
    for part in path:
        if isinstance(part, int):
            args = [a for a in typing.get_args(current) if a is not Ellipsis]
            current = args[0] if len(args) == 1 else None
        elif dataclasses.is_dataclass(current) or (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            hints = typing.get_type_hints(current)
            current = hints.get(part)
        else:
            return None
        if current is None:
            return None
        args = [a for a in typing.get_args(current) if a is not type(None)]
        if typing.get_origin(current) in (typing.Union, types.UnionType):
            current = args[0] if len(args) == 1 else None
    return current if isinstance(current, type) else None


def unknown_key(where: KeyPath, allowed: list[str]) -> str:
    """The message for a key nobody reads: did-you-mean and what is allowed."""
    key = str(where[-1])
    hint = difflib.get_close_matches(key, allowed, n=1)
    mean = f" — did you mean {hint[0]!r}?" if hint else "."
    return (
        f"unknown key {dotted(where)!r}{mean} Fix the spelling or remove it "
        f"(allowed here: {', '.join(allowed) or 'none'})."
    )


def pydantic_problems(
    err: ValidationError, data: object, root: type[Any], prefix: KeyPath, *, wrapped: bool = True
) -> Problems:
    """pydantic's errors as (key path, message), the path trimmed to keys really in the file
    (pydantic appends union member tags such as ``int``/``str`` to the location).

    ``wrapped``: ``err`` comes from one of our single-field wrapper models (``value``)."""
    found: Problems = []
    seen: set[KeyPath] = set()
    for e in err.errors():
        path: list[str | int] = []
        node: object = data
        for part in e["loc"][1:] if wrapped else e["loc"]:
            in_table = isinstance(node, Mapping) and part in node
            in_array = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            if in_table or in_array:
                node = node[part]  # type: ignore[index]
            elif e["type"] == "missing" and isinstance(node, Mapping) and isinstance(part, str):
                path.append(part)
                break
            else:
                break
            path.append(part)
        where = (*prefix, *path)
        if where in seen:
            continue
        seen.add(where)
        if e["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            allowed = fields_of(_type_at(root, tuple(path[:-1])) or object)
            found.append((where, unknown_key(where, allowed)))
        elif e["type"] in ("missing", "missing_keyword_argument", "missing_argument"):
            found.append((where, f"missing key {dotted(where)!r} — add it."))
        else:
            msg = e["msg"].replace("Input should be", "should be")
            found.append((where, f"{dotted(where)!r} = {_short(node)}: {msg} — fix the value."))
    return found


# ---------------------------------------------------------------------------- validation


def _walk(value: object, path: KeyPath) -> Iterator[tuple[KeyPath, str, object]]:
    """(key path, field name, value) of every dataclass field below ``value``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            child = getattr(value, f.name)
            yield (*path, f.name), f.name, child
            yield from _walk(child, (*path, f.name))
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, index))


def _range_problems(spec: HardwareSpec, prefix: KeyPath) -> Problems:
    found: Problems = []
    for where, name, value in _walk(spec, prefix):
        rule = _PIN if name.endswith("_pin") else RANGES.get(name)
        if name == "name" and isinstance(value, str) and not _NAME.fullmatch(value):
            found.append(
                (where, f"{dotted(where)!r} = {_short(value)}: use 1-20 letters, digits, - or _.")
            )
        if rule is None or value is None or isinstance(value, tuple):
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if (
            not number
            or (rule.whole and not isinstance(value, int))
            or not rule.low <= value <= rule.high  # type: ignore[operator]
        ):
            found.append((where, f"{dotted(where)!r} = {_short(value)}: should be {rule.what}."))
    return found


def _gpio_users(
    spec: HardwareSpec, prefix: KeyPath
) -> Iterator[tuple[int, KeyPath, str, str | None]]:
    """(BCM pin, key path, who, shared) of every pin the configuration drives or reads.

    ``shared`` names a bus whose pins several users may share (two RC522 readers on SPI0
    share its clock and data lines, each with its own chip select); None means exclusive.
    """
    for i, reader in enumerate(spec.readers):
        where = (*prefix, "readers", i)
        if isinstance(reader, RC522Spec):
            name = f"reader {reader.name!r}"
            yield reader.rst_pin, (*where, "rst_pin"), f"{name} rst_pin", None
            ce = _SPI_CE.get((reader.spi_bus, reader.spi_device))
            if ce is not None:
                yield ce, (*where, "spi_device"), f"{name} SPI chip select", None
            for pin in _SPI_PINS.get(reader.spi_bus, ()):
                bus = f"SPI{reader.spi_bus}"
                yield pin, (*where, "spi_bus"), f"{name} ({bus} bus)", bus
        elif reader.port in _UART_PORTS:
            for pin in (14, 15):
                yield pin, (*where, "port"), f"reader {reader.name!r} (the Pi's UART)", None
    for i, bank in enumerate(spec.banks):
        if not isinstance(bank, GpioBankSpec):
            continue
        for j, lock in enumerate(bank.locks):
            for field in ("lock_pin", "door_pin", "occupancy_pin", "latch_pin"):
                pin = getattr(lock, field)
                if isinstance(pin, int):
                    who = f"bank {bank.name!r} locker {lock.number} {field}"
                    yield pin, (*prefix, "banks", i, "locks", j, field), who, None
    for field in ("green_pin", "red_pin", "buzzer_pin"):
        pin = getattr(spec.indicators, field)
        if isinstance(pin, int):
            yield pin, (*prefix, "indicators", field), f"indicators {field}", None


def _cross_problems(spec: HardwareSpec, prefix: KeyPath) -> list[tuple[KeyPath, KeyPath, str]]:
    """Clashes as (this key, the other user's key, message)."""
    found: list[tuple[KeyPath, KeyPath, str]] = []
    pins: dict[int, tuple[KeyPath, str, str | None]] = {}
    for pin, where, who, shared in _gpio_users(spec, prefix):
        if pin not in pins:
            pins[pin] = (where, who, shared)
            continue
        other, other_who, other_shared = pins[pin]
        if shared is None or shared != other_shared:
            found.append(
                (
                    where,
                    other,
                    f"GPIO {pin} is used twice: by {other_who} and by {who} — "
                    "give each its own pin.",
                )
            )
    ports: dict[str, tuple[KeyPath, str]] = {}
    addresses: dict[tuple[str, int], KeyPath] = {}
    users = [
        ((*prefix, "readers", i, "port"), f"reader {r.name!r}", r.port)
        for i, r in enumerate(spec.readers)
        if isinstance(r, SerialReaderSpec)
    ] + [
        ((*prefix, "banks", i, "port"), f"bank {b.name!r}", b.port)
        for i, b in enumerate(spec.banks)
        if isinstance(b, RS485BankSpec)
    ]
    for where, who, port in users:
        if port in ports:
            other, other_who = ports[port]
            found.append(
                (
                    where,
                    other,
                    f"serial port {port!r} is used twice: by {other_who} and by {who} "
                    "— one bus per port: put all its boards in one bank.",
                )
            )
        else:
            ports[port] = (where, who)
    for i, bank in enumerate(spec.banks):
        if not isinstance(bank, RS485BankSpec):
            continue
        for j, board in enumerate(bank.boards):
            where = (*prefix, "banks", i, "boards", j, "address")
            key = (bank.port, board.address)
            if key in addresses:
                found.append(
                    (
                        where,
                        addresses[key],
                        f"two boards on bus {bank.port!r} have address "
                        f"{board.address} — set each board's DIP switches to its own address.",
                    )
                )
            else:
                addresses[key] = where
    for what, names in (
        ("reader", [((*prefix, "readers", i, "name"), r.name) for i, r in enumerate(spec.readers)]),
        ("bank", [((*prefix, "banks", i, "name"), b.name) for i, b in enumerate(spec.banks)]),
    ):
        first: dict[str, KeyPath] = {}
        for where, name in names:
            if name in first:
                found.append((where, first[name], f"two {what}s are named {name!r} — rename one."))
            else:
                first[name] = where
    for i, bank in enumerate(spec.banks):
        if isinstance(bank, GpioBankSpec):
            numbers: dict[int, KeyPath] = {}
            for j, lock in enumerate(bank.locks):
                where = (*prefix, "banks", i, "locks", j, "number")
                if lock.number in numbers:
                    found.append(
                        (
                            where,
                            numbers[lock.number],
                            f"bank {bank.name!r} has two lockers numbered {lock.number} — "
                            "renumber one.",
                        )
                    )
                else:
                    numbers[lock.number] = where
    return found


def _one_of(
    items: object, kinds: dict[str, type[Any]], where: KeyPath, problems: Problems
) -> list[Any]:
    """Validate an array of ``kind = ...`` blocks, each into the dataclass its kind names."""
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        problems.append((where, f"{dotted(where)!r} must be [[{dotted(where)}]] blocks."))
        return []
    out: list[Any] = []
    for index, item in enumerate(items):
        here = (*where, index)
        kind = item.get("kind")
        cls = kinds.get(kind) if isinstance(kind, str) else None
        if cls is None:
            problems.append(
                (
                    (*here, "kind"),
                    f"{dotted((*here, 'kind'))!r} = {_short(kind)}: write kind = one of "
                    f"{', '.join(repr(k) for k in kinds)}.",
                )
            )
            continue
        body = {k: v for k, v in item.items() if k != "kind"}
        try:
            out.append(_validate_into(cls, body))
        except ValidationError as err:
            problems += pydantic_problems(err, body, cls, here)
    return out


def validate_hardware(
    table: object, prefix: KeyPath = ("hardware",)
) -> tuple[HardwareSpec | None, Problems, list[tuple[KeyPath, KeyPath, str]]]:
    """The ``[hardware]`` table as a :class:`HardwareSpec`, or the problems found.

    Returns (spec or None, problems as (key path, message), clashes as (key path, other
    user's key path, message)).
    """
    problems: Problems = []
    if not isinstance(table, dict):
        return None, [(prefix, f"{dotted(prefix)!r} must be a table [{dotted(prefix)}].")], []
    rest = {k: v for k, v in table.items() if k not in ("readers", "banks")}
    readers = _one_of(table.get("readers", []), READER_KINDS, (*prefix, "readers"), problems)
    banks = _one_of(table.get("banks", []), BANK_KINDS, (*prefix, "banks"), problems)
    spec: HardwareSpec | None = None
    try:
        base = _validate_into(HardwareSpec, rest)
        spec = dataclasses.replace(base, readers=tuple(readers), banks=tuple(banks))
    except ValidationError as err:
        problems += pydantic_problems(err, rest, HardwareSpec, prefix)
    for index, bank in enumerate(banks):
        empty = not (bank.locks if isinstance(bank, GpioBankSpec) else bank.boards)
        if empty:
            where = (
                *prefix,
                "banks",
                index,
                "locks" if isinstance(bank, GpioBankSpec) else "boards",
            )
            problems.append((where, f"{dotted(where)!r} is empty — list at least one."))
    if spec is None or problems:
        return None, problems, []
    problems += _range_problems(spec, prefix)
    if problems:
        return None, problems, []
    clashes = _cross_problems(spec, prefix)
    return (None if clashes else spec), [], clashes


# ---------------------------------------------------------------------------- defaults, build

# BCM pins of the default layout: SPI0 (7-11), UART (14/15 kept free except the buzzer, see
# docs/hardware.md), RC522 RST on 25.
_DEFAULT_LOCK_PINS = (5, 6, 12, 13, 16, 19, 20, 21)
_DEFAULT_DOOR_PINS = (17, 27, 22, 23, 24, 26, 4, 18)


def default_config() -> HardwareSpec:
    """The default (simulated) layout: RC522 "desk", GPIO bank A x8, RS-485 bank B x4."""
    return HardwareSpec(
        readers=(RC522Spec("desk"),),
        banks=(
            GpioBankSpec(
                "A",
                tuple(
                    GpioLockSpec(number=i + 1, lock_pin=lp, door_pin=dp)
                    for i, (lp, dp) in enumerate(
                        zip(_DEFAULT_LOCK_PINS, _DEFAULT_DOOR_PINS, strict=True)
                    )
                ),
            ),
            RS485BankSpec("B", "/dev/ttyUSB0", boards=(BoardSpec(0, locks=4),)),
        ),
        camera="none",
        indicators=IndicatorSpec(green_pin=2, red_pin=3, buzzer_pin=14),
    )


def build_hardware(spec: HardwareSpec, simulate: bool) -> HardwareBundle:
    """Build the hardware ports from config; ``simulate`` builds the lowest-layer fakes."""
    return _build(spec, simulate=simulate)
