"""Text widgets that never parse markup.

Why: pupil names, device descriptions typed at the hatch and policy reasons with their
``[clause]`` would be read as Textual markup by default: a description such as
"[red] case" would vanish or raise. Everything dynamic goes through these.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static
from textual.widgets.option_list import Option


class Plain(Static):
    """A Static whose content is shown exactly as given."""

    def __init__(self, content: Any = "", **kwargs: Any) -> None:
        kwargs.setdefault("markup", False)
        super().__init__(content, **kwargs)


def option(label: str, id: str | None = None) -> Option:
    """An OptionList entry shown exactly as given."""
    return Option(Text(label), id=id)
