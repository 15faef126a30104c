"""Named crash points: where a test may make the station kill itself with SIGKILL.

Why: "nothing acknowledged is lost and nothing half-done goes unnoticed" has to be proved
with a real crash at the worst moments (the crash harness, ``bench/crash_harness.py``),
not with a simulated one. ``KIOSK_TEST_CRASH_AT=<name>`` kills the process the first time
it passes the point ``name``; ``<name>#<n>`` the ``n``-th time. Unset (every real
station), a crash point costs one dictionary look-up.

This is the one mechanism for such points; the tray photo's ``written``/``recorded``
points (``kiosk/photos.py`` on main) use the same variable and names.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Final

#: Environment variable naming the crash point (tests and the crash harness only).
CRASH_ENV: Final = "KIOSK_TEST_CRASH_AT"

#: Every named point, in the order a deposit passes them (the harness cycles through these).
#: ``commit.before``: a transaction's changes are flushed, the commit not yet made;
#: ``commit.after``: just committed, before anything relies on it;
#: ``door.pulsed``: a lock was pulsed, the door step not yet settled;
#: ``written``: the tray photo file is written, not yet recorded; ``recorded``: recorded.
CRASH_POINTS: Final = ("commit.before", "commit.after", "door.pulsed", "written", "recorded")

_hits: dict[str, int] = {}
_guard = threading.Lock()


def crashpoint(name: str) -> None:
    """SIGKILL this process here if ``KIOSK_TEST_CRASH_AT`` names this point (and hit)."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    wanted, _, nth = spec.partition("#")
    if wanted != name:
        return
    with _guard:
        _hits[name] = _hits.get(name, 0) + 1
        due = _hits[name] == (int(nth) if nth.isdigit() else 1)
    if due:
        os.kill(os.getpid(), signal.SIGKILL)
