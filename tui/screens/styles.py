"""Where the issue-14 screens' stylesheet lives (loaded by their ``CSS_PATH``)."""

from __future__ import annotations

from pathlib import Path

#: ``tui/staff.tcss``: staff and badges, new PIN, refused adult, forced-open check.
STAFF_TCSS = str(Path(__file__).resolve().parent.parent / "staff.tcss")
