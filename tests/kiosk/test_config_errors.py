"""kiosk.toml errors name the file, the line and the key, and say what to do; nothing loads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import hardware.bundle
import hardware.gpio_locks
import hardware.rs485
from kiosk.config import ConfigError, load_config
from kiosk.hardware_config import RANGES

EXAMPLE = Path(__file__).parents[2] / "docs" / "kiosk.example.toml"


def _lines(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def _error(tmp_path: Path, text: str | bytes) -> ConfigError:
    path = tmp_path / "kiosk.toml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert all(p.file == str(path) for p in info.value.problems)
    assert str(path) in str(info.value)
    return info.value


def test_example_config_loads_into_the_hardware_dataclasses() -> None:
    cfg = load_config(EXAMPLE)
    assert isinstance(cfg.hardware, hardware.bundle.HardwareSpec)
    lock8 = cfg.hardware.banks[0].locks[7]  # type: ignore[union-attr]
    assert lock8.lock_active_high is False and lock8.door_pin == 18
    assert cfg.hardware.lock_timings.pulse_s == 0.5


def test_every_range_names_a_real_hardware_field() -> None:
    """A renamed dataclass field must not leave its range behind, unchecked."""
    classes = [
        c
        for m in (hardware.bundle, hardware.gpio_locks, hardware.rs485)
        for c in vars(m).values()
        if dataclasses.is_dataclass(c) and isinstance(c, type)
    ]
    names = {f.name for c in classes for f in dataclasses.fields(c)}
    assert set(RANGES) <= names


@pytest.mark.parametrize(
    "old,new,needle,message",
    [
        ("pulse_s = 0.5", "pulse_sm = 0.5", "pulse_sm", "did you mean 'pulse_s'"),
        ("pulse_s = 0.5", "pulse_s = 30", "pulse_s", "0.02-5"),
        ("rst_pin = 25", "rst_pin = 40", "rst_pin", "BCM GPIO number 0-27"),
        ("rst_pin = 25", 'rst_pin = "x"', "rst_pin", "should be a valid integer"),
        ('kind = "rc522"', 'kind = "rc5222"', "rc5222", "'rc522', 'serial'"),
        (
            "{ number = 3, lock_pin = 12, door_pin = 22 }",
            "{ number = 3, lock_pin = 12 }",
            "number = 3",
            "missing key 'hardware.banks[0].locks[2].door_pin'",
        ),
        (
            "{ number = 4, lock_pin = 13, door_pin = 23 }",
            "{ number = 4, lock_pin = 13, door_pin = 23, colour = 1 }",
            "colour",
            "unknown key",
        ),
        ('timezone = "Europe/London"', 'timezone = "Europe/Londn"', "Londn", "unknown time zone"),
        ("max_failed_pins = 5", "max_failed_pins = 500", "max_failed_pins", "less than or equal"),
        ("[database]", "[databse]", "[databse]", "did you mean 'database'"),
        ("exam_cabinets = { B4 = 30 }", "exam_cabinets = { B9 = 30 }", "B9", "not a configured"),
    ],
)
def test_a_bad_value_names_its_line_and_key(
    tmp_path: Path, old: str, new: str, needle: str, message: str
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    text = text.replace(old, new, 1)
    err = _error(tmp_path, text)
    problem = err.problems[0]
    assert problem.line == _lines(text, needle), str(err)
    assert message in str(err), str(err)
    assert f"line {problem.line}:" in str(err)


@pytest.mark.parametrize(
    "tail,needle",
    [
        (b'name = "Main \xe9cole"', "not UTF-8"),
        (b"big = " + b"9" * 5000, "far too long"),
        (b"deep = " + b"[" * 3000 + b"]" * 3000, "nested more than"),
        (b"x" + b".x" * 300 + b" = 1", "nests too deep"),
        (b'name = "\\u001b]0;pwned\\u0007"', "control character"),
        (b"n = nan", "finite"),
        (b"\x00", "TOML syntax error"),
    ],
)
def test_hostile_bytes_end_in_a_config_error_with_a_line(
    tmp_path: Path, tail: bytes, needle: str
) -> None:
    data = EXAMPLE.read_bytes()
    data = data.replace(b"[database]", b"[station2]\n" + tail + b"\n\n[database]", 1)
    err = _error(tmp_path, data)
    line = data[: data.index(tail)].count(b"\n") + 1
    assert err.problems[0].line == line, str(err)
    assert needle in str(err)


def _with_hardware(extra: str) -> str:
    return EXAMPLE.read_text(encoding="utf-8").replace(
        "[hardware.indicators]", extra + "\n[hardware.indicators]", 1
    )


def test_two_boards_with_one_address_on_a_bus_name_both_lines(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "boards = [{ address = 0, locks = 4, door_closed_bit = 1 }]",
        "boards = [\n  { address = 0, locks = 4 },\n  { address = 1, locks = 4 },\n"
        "  { address = 0, locks = 2 },\n]",
    )
    err = _error(tmp_path, text)
    (problem,) = err.problems
    first = _lines(text, "{ address = 0, locks = 4 }")
    assert problem.line == first + 2
    assert problem.key == "hardware.banks[1].boards[2].address"
    assert "address 0" in problem.message and f"line {first})" in problem.message


def test_a_pin_used_twice_names_both_users_and_lines(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("buzzer_pin = 14", "buzzer_pin = 22")
    err = _error(tmp_path, text)
    (problem,) = err.problems
    # reported at the later of the two lines, naming the earlier
    assert problem.line == _lines(text, "door_pin = 22")
    assert "GPIO 22 is used twice" in problem.message
    assert "bank 'A' locker 3 door_pin" in problem.message
    assert "indicators buzzer_pin" in problem.message
    assert f"line {_lines(text, 'buzzer_pin = 22')})" in problem.message


def test_a_door_sensor_on_the_readers_spi_pins_is_refused(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("door_pin = 27 }", "door_pin = 10 }")
    (problem,) = _error(tmp_path, text).problems
    assert "GPIO 10 is used twice" in problem.message and "SPI0" in problem.message


def test_two_rc522_share_the_spi_bus_but_not_a_chip_select(tmp_path: Path) -> None:
    second = '[[hardware.readers]]\nkind = "rc522"\nname = "hatch"\nspi_device = 1\nrst_pin = 7\n'
    (problem,) = _error(tmp_path, EXAMPLE.read_text(encoding="utf-8") + second).problems
    assert "GPIO 7 is used twice" in problem.message
    assert "reader 'hatch' SPI chip select" in problem.message
    path = tmp_path / "good.toml"
    path.write_text(
        EXAMPLE.read_text(encoding="utf-8") + second.replace("rst_pin = 7", "rst_pin = 24"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:  # 24 is locker 5's door: the only clash
        load_config(path)
    assert [p.key for p in info.value.problems] == ["hardware.readers[1].rst_pin"]
    path.write_text(
        EXAMPLE.read_text(encoding="utf-8") + second.replace("rst_pin = 7", "rst_pin = 15"),
        encoding="utf-8",
    )
    assert [r.name for r in load_config(path).hardware.readers] == ["desk", "hatch"]


def test_one_serial_port_for_two_banks_is_refused(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8") + (
        '\n[[hardware.banks]]\nkind = "rs485"\nname = "C"\nport = "/dev/ttyUSB0"\n'
        "boards = [{ address = 1 }]\n"
    )
    (problem,) = _error(tmp_path, text).problems
    assert problem.key == "hardware.banks[2].port" and "used twice" in problem.message


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the kiosk config"):
        load_config(tmp_path / "nope.toml")
