"""Tray camera. Frames the tray only; stills stay on the Pi (DESIGN.md, Data protection).

picamera2 needs libcamera from the Pi's apt repository, so it cannot be a hard dependency: it is
imported lazily inside :class:`PiCamera2Camera` and only when a still is wanted. We never run a
background preview: the camera is opened, one still is captured, and it is closed again, so it
is not streaming between captures.

A still is written atomically: picamera2 writes a temporary file in the destination folder
(same file system, same extension so it picks the same encoder), we fsync it, ``os.replace`` it
onto the final name and fsync the folder. A crash or power cut at any point leaves either the
complete photo or no photo under the final name, never a truncated JPEG that a record points to.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class CameraUnavailable(RuntimeError):
    """picamera2 (or the camera itself) is not there, or another process holds it."""


class NullCamera:
    """No camera fitted: captures nothing."""

    def capture_still(self, path: Path) -> Path | None:
        return None

    def describe(self) -> str:
        return "no camera fitted"


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX: the directory entry lives in the folder)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PiCamera2Camera:
    """:class:`hardware.ports.Camera` using picamera2 (Pi camera modules via libcamera)."""

    def __init__(self, camera_num: int = 0, size: tuple[int, int] = (1280, 960)) -> None:
        self.camera_num = camera_num
        self.size = size

    @staticmethod
    def _module() -> Any:
        try:
            return importlib.import_module("picamera2")
        except ImportError as exc:
            raise CameraUnavailable(
                "picamera2 is not installed: install the 'pi' extra on a Raspberry Pi "
                "(pip install '.[pi]', with python3-libcamera from apt)"
            ) from exc

    def describe(self) -> str:
        return f"picamera2 camera {self.camera_num} at {self.size[0]}x{self.size[1]}"

    def _open(self, picamera2: Any) -> Any:
        """``Picamera2(n)``, with its two ways of failing turned into a message for staff."""
        try:
            return picamera2.Picamera2(self.camera_num)
        except IndexError as exc:
            # picamera2 indexes its list of detected cameras: an empty list -> IndexError.
            raise CameraUnavailable(
                f"no camera {self.camera_num} detected: check the ribbon cable and that "
                "`rpicam-hello --list-cameras` lists it"
            ) from exc
        except RuntimeError as exc:
            if "busy" in str(exc).lower():
                raise CameraUnavailable(
                    "camera busy: another process holds it (stop any rpicam-* or second "
                    "kiosk process)"
                ) from exc
            raise CameraUnavailable(f"camera {self.camera_num} cannot be opened: {exc}") from exc

    def capture_still(self, path: Path) -> Path | None:
        """One still of the tray, complete or not at all. Raises CameraUnavailable."""
        picamera2 = self._module()
        path.parent.mkdir(parents=True, exist_ok=True)
        cam = self._open(picamera2)
        fd, tmp_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.stem}.", suffix=f".part{path.suffix}"
        )
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            try:
                config = cam.create_still_configuration(main={"size": self.size})
                cam.configure(config)
                cam.start()  # no preview window: show_preview is never called
                cam.capture_file(str(tmp))
            except RuntimeError as exc:  # libcamera timeouts, failed requests
                raise CameraUnavailable(f"capture failed: {exc}") from exc
            finally:
                with contextlib.suppress(Exception):
                    cam.stop()
                with contextlib.suppress(Exception):
                    cam.close()
            if tmp.stat().st_size == 0:
                raise CameraUnavailable("the camera wrote an empty image")
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return path
