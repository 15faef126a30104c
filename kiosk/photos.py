"""Tray photos: written and recorded so a crash leaves a recorded photo or nothing to keep.

The camera writes to a temporary name in ``<data_dir>/photos``; the final name is recorded
against the holding and committed; only then is the file renamed to that final name (and the
folder synced). A crash or power cut before the commit leaves a temporary file no record
names, and one between the commit and the rename leaves a record naming a file that does not
exist: the next retention purge (:mod:`kiosk.retention`) deletes the first and clears the
second. So the Pi never keeps a photo the retention schedule does not know about.

``KIOSK_TEST_CRASH_AT`` (tests only) makes the process kill itself with SIGKILL at a named
point, to prove the above with a real crash rather than a simulated one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Final

from hardware.ports import Camera
from kiosk import crashpoints
from kiosk.auth import Identity
from kiosk.custody import Custody

#: Environment variable naming a crash point (``written``, ``recorded``); tests only.
CRASH_ENV: Final = crashpoints.CRASH_ENV
#: Marks a capture not yet recorded; the purge removes any such file it finds.
TEMP_MARK: Final = ".part-"


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def photo_name(holding_id: int) -> str:
    return f"holding-{holding_id}.jpg"


def take_tray_photo(
    custody: Custody,
    camera: Camera,
    photo_dir: Path,
    actor: Identity | None,
    holding_id: int,
) -> Path | None:
    """Capture, record and publish one tray still; None when no camera is fitted."""
    photo_dir.mkdir(parents=True, exist_ok=True)
    final = photo_dir / photo_name(holding_id)
    # The extension stays last: picamera2 picks the image format from it.
    temp = photo_dir / f"holding-{holding_id}{TEMP_MARK}{secrets.token_hex(4)}.jpg"
    written = camera.capture_still(temp)
    if written is None:
        return None
    try:
        _fsync_file(written)
        crashpoints.crashpoint("written")
        custody.attach_photo(actor, holding_id, str(final))
    except BaseException:
        written.unlink(missing_ok=True)
        raise
    crashpoints.crashpoint("recorded")
    os.replace(written, final)
    _fsync_dir(photo_dir)
    return final
