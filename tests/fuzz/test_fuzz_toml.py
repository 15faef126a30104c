"""Fuzzing school profiles and kiosk.toml: any bytes, and mutations of the real files.

Properties: loading either works or raises the documented error (``ProfileError``,
``ConfigError``), never anything else; every problem has a line (>= 1) and the message names
the file; no refusal echoes a control character to the terminal.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from fuzz_support import fuzz_settings, tally
from hypothesis import given
from hypothesis import strategies as st

from kiosk.config import ConfigError, load_config
from policies import PROFILE_DIR, ProfileError, load_profile

EXAMPLE_CONFIG = Path(__file__).parents[2] / "docs" / "kiosk.example.toml"
PROFILES = sorted(PROFILE_DIR.glob("*.toml"))
_names = itertools.count()


def _unsafe(ch: str) -> bool:
    return (ord(ch) < 0x20 and ch != "\n") or 0x7F <= ord(ch) < 0xA0 or ch in "\u202e\u2028"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-toml")


def _write(folder: Path, data: bytes) -> Path:
    # A new name every time: profiles are cached by path and modification time.
    path = folder / f"f{next(_names)}.toml"
    path.write_bytes(data)
    return path


def _profile(folder: Path, data: bytes, name: str) -> None:
    path = _write(folder, data)
    outcome = tally(name).run(lambda: load_profile(path), (ProfileError,))
    if isinstance(outcome, ProfileError):
        text = str(outcome)
        assert outcome.problems and all(p.line >= 1 for p in outcome.problems), text
        assert all(str(p).startswith(f"{p.file} line {p.line}: ") for p in outcome.problems)
        assert not any(_unsafe(c) for c in text), text


def _config(folder: Path, data: bytes, name: str) -> None:
    path = _write(folder, data)
    outcome = tally(name).run(lambda: load_config(path), (ConfigError,))
    if isinstance(outcome, ConfigError):
        text = str(outcome)
        assert outcome.problems and all(p.line >= 1 for p in outcome.problems), text
        assert all(line.startswith(f"{path} line ") for line in text.splitlines()), text
        assert not any(_unsafe(c) for c in text), text


# --------------------------------------------------------------------------- atoms

_big = st.integers(20, 6000).map(lambda n: "9" * n)
_deep = st.integers(10, 3000).map(lambda n: "[" * n + "]" * n)
_deep_table = st.integers(10, 2000).map(lambda n: "{a=" * n + "1" + "}" * n)
_string = st.text(max_size=30).map(
    lambda t: '"' + t.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
)
ATOM = st.one_of(
    st.integers().map(str),
    _big,
    st.floats().map(lambda f: "nan" if f != f else ("inf" if f == float("inf") else repr(f))),
    st.sampled_from(["inf", "-inf", "nan", "true", "false", "1979-05-27", "07:32:00", "[]", "{}"]),
    _string,
    _deep,
    _deep_table,
    st.sampled_from(['"\\u001b[2J"', '"\\u009b31m"', '"a\\u202eb"', "{ value = 1 }"]),
    st.text(max_size=12),
)


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """The real file with one to three edits a person (or a broken editor) could make."""
    lines = base.split(b"\n")
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["value", "delete", "repeat", "bytes", "key"]))
        if edit == "value" and b"=" in lines[i]:
            key = lines[i].split(b"=", 1)[0]
            lines[i] = key + b"= " + draw(ATOM).encode("utf-8", "surrogatepass")
        elif edit == "delete":
            del lines[i]
            if not lines:
                lines = [b""]
        elif edit == "repeat":
            lines.insert(i, lines[i])
        elif edit == "bytes":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.binary(min_size=1, max_size=6)) + lines[i][at:]
        else:
            lines.insert(
                i,
                draw(st.from_regex(r"[a-z_.]{1,20}", fullmatch=True)).encode()
                + b" = "
                + draw(ATOM).encode("utf-8", "surrogatepass"),
            )
    data = b"\n".join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "cp1252"]))
    if encoding != "utf-8":
        data = data.decode("utf-8", "replace").encode(encoding, "replace")
    return data


# --------------------------------------------------------------------------- profiles


@fuzz_settings(100)
@given(data=st.binary(max_size=3000))
def test_profile_any_bytes(folder: Path, data: bytes) -> None:
    _profile(folder, data, "profile_bytes")


@fuzz_settings(150)
@given(data=st.sampled_from(PROFILES).flatmap(lambda p: mutated(p.read_bytes())))
def test_profile_mutations(folder: Path, data: bytes) -> None:
    _profile(folder, data, "profile_mutations")


# --------------------------------------------------------------------------- kiosk.toml


@fuzz_settings(100)
@given(data=st.binary(max_size=3000))
def test_config_any_bytes(folder: Path, data: bytes) -> None:
    _config(folder, data, "config_bytes")


@fuzz_settings(150)
@given(data=mutated(EXAMPLE_CONFIG.read_bytes()))
def test_config_mutations(folder: Path, data: bytes) -> None:
    _config(folder, data, "config_mutations")
