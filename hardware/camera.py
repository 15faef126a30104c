"""Tray camera. Frames the tray only; stills stay on the Pi (DESIGN.md, Data protection).

picamera2 needs libcamera from the Pi's apt repository, so it cannot be a hard dependency: it is
imported lazily inside :class:`PiCamera2Camera` and only when a still is wanted. We never run a
background preview: the camera is opened, one still is captured, and it is closed again, so it
is not streaming between captures.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class CameraUnavailable(RuntimeError):
    """picamera2 (or the camera itself) is not there."""


class NullCamera:
    """No camera fitted: captures nothing."""

    def capture_still(self, path: Path) -> Path | None:
        return None

    def describe(self) -> str:
        return "no camera fitted"


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

    def capture_still(self, path: Path) -> Path | None:
        """One still of the tray. Raises CameraUnavailable if picamera2 is missing."""
        picamera2 = self._module()
        path.parent.mkdir(parents=True, exist_ok=True)
        cam = picamera2.Picamera2(self.camera_num)
        try:
            config = cam.create_still_configuration(main={"size": self.size})
            cam.configure(config)
            cam.start()  # no preview window: show_preview is never called
            cam.capture_file(str(path))
        finally:
            cam.stop()
            cam.close()
        return path
