"""Find the line of a dotted key in TOML text.

``tomllib`` returns plain dicts with no positions, yet a profile error is only useful to the
person editing the file if it says which line to fix. This is a deliberately small scanner
for the subset of TOML the profiles use (tables, arrays of tables, dotted and quoted keys,
inline tables, multi-line arrays and strings); it is only ever asked *where* something is,
never *what* it means, so an imperfect answer degrades to pointing at the enclosing table.
"""

from __future__ import annotations

import re

KeyPath = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[|\[)\s*(?P<name>[^\[\]]+?)\s*(\]\]|\])\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*(?P<key>(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')"""
    r"""(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*'))*)\s*="""
)
_KEY_PART = re.compile(r"""[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*'""")
_STRINGS = re.compile(r""""(?:[^"\\\n]|\\.)*"|'[^'\n]*'""")


def _split_key(key: str) -> tuple[str, ...]:
    return tuple(part.strip("\"'") for part in _KEY_PART.findall(key))


def _bracket_balance(fragment: str) -> int:
    """Open minus close brackets/braces outside strings and comments."""
    code = _STRINGS.sub('""', fragment).split("#", 1)[0]
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")


def _array_items(fragment: str, depth: int, count: int) -> tuple[int, int, list[list[str]]]:
    """Inline tables opened directly inside a multi-line array value, in ``fragment``.

    ``depth`` is the bracket depth before the fragment (1 = directly inside the array) and
    ``count`` the items seen so far; returns the new depth and count, and the keys written in
    each inline table opened here (so ``locks[7].door_pin`` finds the eighth ``{ ... }``).
    """
    code = _STRINGS.sub('""', fragment).split("#", 1)[0]
    opened: list[list[str]] = []
    i = 0
    while i < len(code):
        ch = code[i]
        if ch in "[{":
            if ch == "{" and depth == 1:
                opened.append([])
                count += 1
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif depth == 2 and opened:
            key = re.match(r"([A-Za-z0-9_-]+)\s*=", code[i:])
            if key and (i == 0 or not (code[i - 1].isalnum() or code[i - 1] in "_-")):
                opened[-1].append(key.group(1))
                i += key.end()
                continue
        i += 1
    return depth, count, opened


def key_lines(text: str) -> list[tuple[KeyPath, int]]:
    """Every table header and key in ``text`` as (full key path, 1-based line number).

    Arrays of tables get an integer index, so the third ``[[categories]]`` block is
    ``("categories", 2)`` and its ``code`` key is ``("categories", 2, "code")``.
    """
    found: list[tuple[KeyPath, int]] = []
    current: KeyPath = ()
    array_counts: dict[tuple[str, ...], int] = {}
    depth = 0  # open brackets carried over from a multi-line value
    array_path: KeyPath | None = None  # the key of the multi-line array being read, if any
    items = 0  # inline tables seen so far in that array
    in_ml_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_ml_string is not None:
            if line.count(in_ml_string) % 2 == 1:
                in_ml_string = None
            continue
        if depth > 0:
            if array_path is None:
                depth += _bracket_balance(line)
                continue
            depth, items, opened = _array_items(line, depth, items)
            for offset, keys in enumerate(opened, start=items - len(opened)):
                found.append(((*array_path, offset), number))
                found += [((*array_path, offset, key), number) for key in keys]
            if depth <= 0:
                array_path, depth = None, 0
            continue
        header = _HEADER.match(line)
        if header and not _KEY.match(line):
            parts = _split_key(header.group("name"))
            if header.group(1) == "[[":
                index = array_counts.get(parts, 0)
                array_counts[parts] = index + 1
                current = (*parts, index)
            else:
                current = parts
            found.append((current, number))
            continue
        key = _KEY.match(line)
        if key:
            found.append(((*current, *_split_key(key.group("key"))), number))
            rest = line[key.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_ml_string = quote
                    break
            else:
                depth = max(0, _bracket_balance(rest))
                if depth > 0 and rest.lstrip().startswith("["):
                    # A multi-line array: count the inline tables already opened on this line.
                    array_path = (*current, *_split_key(key.group("key")))
                    _depth, items, _opened = _array_items(rest.lstrip()[1:], 1, 0)
    return found


def find_line(text: str, target: KeyPath) -> int:
    """Line of the key (or nearest enclosing table) named by ``target``; 1 if nothing matches.

    The longest matching prefix wins, so a bad ``release.earliest_time.value`` inside an
    inline table points at the ``earliest_time = {...}`` line, and a key missing from
    ``[release]`` points at the ``[release]`` header.
    """
    best_len, best_line = 0, 1
    below: int | None = None
    for path, line in key_lines(text):
        if len(path) > len(target) and path[: len(target)] == target:
            # ``[[hardware.banks]]`` blocks are where the key ``hardware.banks`` is written.
            below = line if below is None else below
            continue
        if len(path) > len(target) or path != target[: len(path)]:
            continue
        if len(path) > best_len:
            best_len, best_line = len(path), line
    return below if below is not None and best_len < len(target) else best_line


def dotted(path: KeyPath) -> str:
    """Render a key path the way a person would type it: ``categories[2].follow_ups``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
