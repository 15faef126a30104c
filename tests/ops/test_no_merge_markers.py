"""No merge-conflict markers left in the repository's text (docs/tui.md carried three for a
session after a merge: ruff and mypy only read Python, so nothing else caught them)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEXT = {".py", ".md", ".toml", ".tcss", ".service", ".timer", ".sh", ".txt", ".csv", ".ini"}
SKIP = {".git", ".venv", "node_modules", "__pycache__", ".data", "artifacts"}
MARKER = re.compile(r"^(<{7} |>{7} |={7}$)")


def _text_files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        if SKIP.intersection(path.relative_to(ROOT).parts) or not path.is_file():
            continue
        if path.suffix in TEXT:
            found.append(path)
    return found


def test_no_merge_conflict_markers() -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _text_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if MARKER.match(line)
    ]
    assert not hits, "merge-conflict markers left in: " + ", ".join(hits)


def test_the_check_sees_a_marker(tmp_path: Path) -> None:
    assert MARKER.match("<<<<<<< HEAD")
    assert MARKER.match("=======")
    assert not MARKER.match("======= a heading underline with text")
    assert len(_text_files()) > 50  # it walks the tree, not an empty list
