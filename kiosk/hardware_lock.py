"""One process owns the hardware: an exclusive ``flock`` on a file in the data folder.

Why: two processes pulsing locks on one RS-485 bus garble each other's frames, and two door
monitors would each see the other's unlocks as forced doors. The station (``kiosk run``, with
or without the UI) takes the lock before it touches a pin or a port; ``kiosk hw test`` takes
the same lock, so it is refused while a station runs. ``flock`` is released by the kernel when
the process dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "hardware.lock"


class HardwareBusy(RuntimeError):
    """Another process holds the hardware; the message says which and what to do."""


class HardwareLock:
    """An exclusive, non-blocking lock on ``<data_dir>/hardware.lock``."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, purpose: str) -> None:
        """Take the lock or raise :class:`HardwareBusy` naming the holder's pid and purpose."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise HardwareBusy(
                f"the hardware is in use by {holder} (lock file {self.path}). Stop that "
                "process first (e.g. `systemctl stop kiosk`); only one process may drive "
                "the locks and readers."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({purpose})\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
