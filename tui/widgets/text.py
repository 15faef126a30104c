"""Untrusted text shown as text: the one place the staff UI and signage make strings safe.

Why: pupil and contact names, exam titles, device descriptions typed at the hatch and policy
reasons with their ``[clause]`` all come from outside (MIS import, staff typing, profiles).
Textual reads markup by default, so "[@click=app.quit]x[/]" in an exam title would become a
clickable quit and "[red] case" would vanish; and a name holding ESC or CSI (``\\x1b[2J``,
``\\x9b31m``) would reach the terminal as a command. Rich's ``Text`` stops markup but keeps
ESC, so every string goes through :func:`safe` (control characters shown as ``\\xNN``) and is
drawn as ``Text`` or with ``markup=False`` (issue 9, "Untrusted text is shown as text").
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rich.text import Text
from textual.visual import VisualType
from textual.widgets import Static
from textual.widgets.option_list import Option

# Line breaks are layout in our own composed strings ("\n".join(lines)); everything else in
# categories Cc (C0, DEL, C1 such as CSI U+009B) and the bidi/format controls (Cf) is shown
# escaped so it can neither move the cursor nor reorder what staff read.
_KEEP = frozenset("\n")


def _forbidden(ch: str) -> bool:
    if ch in _KEEP:
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")


def safe(text: object) -> str:
    """``text`` as a string that no terminal treats as a command: controls as ``\\xNN``."""
    s = str(text)
    if not any(_forbidden(ch) for ch in s):
        return s
    return "".join(
        (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}") if _forbidden(ch) else ch
        for ch in s
    )


def plain(text: object) -> Text:
    """A Rich ``Text`` of ``text``: never markup, never control characters."""
    if isinstance(text, Text):
        if not any(_forbidden(ch) for ch in text.plain):
            return text
        out = text.copy()
        out.plain = safe(text.plain)
        return out
    return Text(safe(text))


def _clean(content: Any) -> Any:
    if isinstance(content, str):
        return safe(content)
    if isinstance(content, Text):
        return plain(content)
    return content


class Plain(Static):
    """A Static whose content is shown exactly as given, controls escaped."""

    def __init__(self, content: Any = "", **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        super().__init__(_clean(content), **kwargs)

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        super().update(_clean(content), layout=layout)


def option(label: str, id: str | None = None) -> Option:
    """An OptionList entry shown exactly as given."""
    return Option(plain(label), id=id)
