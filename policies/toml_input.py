"""Read a TOML file someone typed, refusing what ``tomllib`` would turn into a traceback.

Why this exists: profiles and ``kiosk.toml`` are edited by hand on the Pi, and ``tomllib``
answers some bad files with exceptions that name no line (``UnicodeDecodeError`` for a file
saved as Windows-1252, ``ValueError`` for a 5,000-digit integer, ``RecursionError`` for deep
nesting). Here every one of them becomes a :class:`TomlInputError` listing (line, key path,
message), and values no schema of ours could want (integers beyond 64 bits, tables nested
deeper than :data:`MAX_DEPTH`, control characters that rewrite the screen) are refused with
their key before any schema sees them. Callers turn the problems into their own error type
(``ProfileError``, the kiosk's ``ConfigError``).
"""

from __future__ import annotations

import math
import re
import stat
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies._lines import KeyPath, dotted, find_line

__all__ = [
    "MAX_DEPTH",
    "KeyPath",
    "TomlInputError",
    "TomlProblem",
    "dotted",
    "find_line",
    "read_toml",
]

#: Largest file read: a profile or kiosk config is a few KiB.
MAX_BYTES = 1024 * 1024
#: Deepest nesting of tables and arrays accepted (our deepest schema uses 5).
MAX_DEPTH = 12
#: Largest integer magnitude accepted anywhere; each schema narrows it further.
MAX_INT = 2**63 - 1
SAVE_AS_UTF8 = "save the file as UTF-8 (in nano this is the default; in Notepad: Save As > UTF-8)"

_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")
_DIGITS = re.compile(r"[0-9A-Fa-f_]{40,}")


@dataclass(frozen=True)
class TomlProblem:
    """One thing wrong with the file: where (line, key path) and what to do."""

    line: int
    key: KeyPath
    message: str


class TomlInputError(ValueError):
    """The file cannot be used at all; ``problems`` say where and why."""

    def __init__(self, problems: list[TomlProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"line {p.line}: {p.message}" for p in problems))


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _digits(value: int) -> int:
    """Decimal digits of ``value`` without ``str()``, which refuses past 4,300 digits."""
    digits = max(1, int(abs(value).bit_length() * 0.30103))
    power: int = 10**digits  # int ** int is typed Any (a negative power is a float)
    return digits + (abs(value) >= power)


#: Bidirectional overrides and isolates: they reorder how the text around them is shown.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def _control(ch: str) -> bool:
    return ch not in "\n\t" and (ch in _BIDI or unicodedata.category(ch) in ("Cc", "Zl", "Zp"))


def decode(data: bytes) -> str:
    """UTF-8 (as TOML requires), with a leading BOM tolerated; anything else refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 4].hex(" ")
        raise TomlInputError(
            [
                TomlProblem(
                    _line_at(data, exc.start),
                    (),
                    f"the bytes at offset {exc.start} ({bad}) are not UTF-8 — {SAVE_AS_UTF8}, "
                    "or retype the accented characters on this line.",
                )
            ]
        ) from None


def _deepest_line(text: str) -> int:
    """Line where bracket nesting first passes MAX_DEPTH (strings ignored roughly)."""
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        for ch in line.split("#", 1)[0]:
            if ch in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return number
            elif ch in "]}":
                depth -= 1
    return 1


def parse(text: str) -> dict[str, Any]:
    """``tomllib.loads`` with every failure turned into a located :class:`TomlInputError`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        msg = str(error)
        pos = _TOML_POS.search(msg)
        line = int(pos.group(1)) if pos else 1
        detail = _TOML_POS.sub("", msg).strip()
        where = f" (column {pos.group(2)})" if pos else ""
        raise TomlInputError(
            [
                TomlProblem(
                    line,
                    (),
                    f"TOML syntax error: {detail}{where} — fix the syntax on this line "
                    "(strings need quotes, tables need [brackets]).",
                )
            ]
        ) from None
    except RecursionError:
        raise TomlInputError(
            [
                TomlProblem(
                    _deepest_line(text),
                    (),
                    f"arrays or tables nested more than {MAX_DEPTH} deep — nothing in this file "
                    "needs that; look for brackets repeated by mistake.",
                )
            ]
        ) from None
    except ValueError as error:  # int() refusing a number of thousands of digits
        match = _DIGITS.search(text)
        line = text.count("\n", 0, match.start()) + 1 if match else 1
        what = "a number far too long to mean anything" if match else "a value that cannot be read"
        raise TomlInputError(
            [TomlProblem(line, (), f"{what} ({str(error)[:60]}...) — write the value meant.")]
        ) from None


def check_values(data: dict[str, Any]) -> list[TomlProblem]:
    """Depth, integer size and control characters, for every value (without recursion)."""
    found: list[TomlProblem] = []
    stack: list[tuple[KeyPath, object]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if len(path) > MAX_DEPTH:
            found.append(
                TomlProblem(
                    0, path[:MAX_DEPTH], f"{dotted(path[:MAX_DEPTH])!r} nests too deep — remove it."
                )
            )
            continue
        if isinstance(value, dict):
            for key in value:
                if any(_control(ch) for ch in key):
                    found.append(
                        TomlProblem(
                            0,
                            path,
                            f"a key in {dotted(path) or 'the file'!r} contains a "
                            "control character — retype the key.",
                        )
                    )
            stack.extend(((*path, str(k)), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            found.append(
                TomlProblem(
                    0,
                    path,
                    f"{dotted(path)!r} is a {_digits(value)}-digit number — write the value meant.",
                )
            )
        elif isinstance(value, float) and not math.isfinite(value):
            found.append(
                TomlProblem(
                    0, path, f"{dotted(path)!r} is {value} — write a finite number, e.g. 30."
                )
            )
        elif isinstance(value, str) and any(_control(ch) for ch in value):
            ch = next(ch for ch in value if _control(ch))
            found.append(
                TomlProblem(
                    0,
                    path,
                    f"{dotted(path)!r} contains the control character U+{ord(ch):04X}, "
                    "which can rewrite the screen it is shown on — remove it.",
                )
            )
    return found


def read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """The text and parsed data of ``path``; :class:`TomlInputError` if it cannot be used.

    ``OSError`` (missing file, no permission) is left to the caller, which knows what the
    file is for and can say so.
    """
    if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or a tty would block the kiosk's start
        raise TomlInputError([TomlProblem(1, (), "is not a regular file — name a .toml file.")])
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise TomlInputError(
            [TomlProblem(1, (), f"the file is over {MAX_BYTES // 1024} KiB — is it the right one?")]
        )
    text = decode(data)
    parsed = parse(text)
    problems = check_values(parsed)
    if problems:
        raise TomlInputError(
            sorted(
                (TomlProblem(find_line(text, p.key), p.key, p.message) for p in problems),
                key=lambda p: p.line,
            )
        )
    return text, parsed
