"""Every `kiosk ...` command the README and the day-one guide tell a technician to run exists."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from kiosk.cli import main

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", REPO / "docs" / "day-one.md"]
# `kiosk signage` is added to the group by the console script (tui/cli.py), not by kiosk.cli.
ADDED_BY_THE_UI = {"signage"}


def _code(text: str) -> list[str]:
    """The lines of fenced code blocks and the inline `code` spans: where commands are."""
    blocks = re.findall(r"```\w*\n(.*?)```", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return [line.strip() for chunk in blocks + spans for line in chunk.splitlines()]


def _commands(text: str) -> set[tuple[str, ...]]:
    """First two words after `kiosk` where it starts a command (not `systemctl stop kiosk`)."""
    found: set[tuple[str, ...]] = set()
    for line in _code(text):
        for match in re.finditer(r"(?:^|&& |; |/bin/)kiosk((?: [a-z][a-z-]*)+)", line):
            found.add(tuple(match.group(1).split())[:2])
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_documented_commands_exist(doc: Path) -> None:
    missing = []
    for words in sorted(_commands(doc.read_text())):
        command: click.Command | None = main
        for i, word in enumerate(words):
            if word in ADDED_BY_THE_UI and i == 0:
                command = None
                break
            if not isinstance(command, click.Group):
                break  # the rest are arguments (e.g. `kiosk import pupils`)
            # get_command, not .commands: kiosk loads some groups lazily (issue 15)
            sub = command.get_command(click.Context(command), word)
            if sub is None:
                if i == 0:
                    missing.append(" ".join(words))
                break
            command = sub
    assert not missing, f"{doc.name} names commands the CLI does not have: {missing}"


def test_the_check_can_fail() -> None:
    assert ("frobnicate",) in _commands("run `kiosk frobnicate` now")
    assert "frobnicate" not in main.commands
