"""A stand-in for the ``picamera2`` module with its real API and its real ways of failing.

Same names and call shapes as picamera2 (``Picamera2(camera_num)``,
``create_still_configuration(main=...)``, ``configure``, ``start``, ``capture_file(name)``,
``stop``, ``close``). How the real one fails, reproduced here: with no camera detected the
constructor indexes an empty camera list (``IndexError``); a camera another process holds
raises ``RuntimeError("Failed to acquire camera: Device or resource busy")``. ``crash_after``
makes ``capture_file`` write part of a JPEG and then die, as a power cut mid-write would.
"""

from __future__ import annotations

from typing import Any, ClassVar

JPEG = b"\xff\xd8\xff\xe0" + bytes(2000) + b"\xff\xd9"


class World:
    """What is plugged in; tests set it before use."""

    cameras = 1
    busy = False
    crash_after: int | None = None
    opened: ClassVar[list[Picamera2]] = []


class Picamera2:
    def __init__(self, camera_num: int = 0) -> None:
        detected = [{"Num": i} for i in range(World.cameras)]
        self.camera_num = detected[camera_num]["Num"]  # IndexError when none, as picamera2
        if World.busy:
            raise RuntimeError("Failed to acquire camera: Device or resource busy")
        self.configured: dict[str, Any] | None = None
        self.started = False
        self.closed = False
        World.opened.append(self)

    def create_still_configuration(self, main: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"use_case": "still", "main": dict(main or {})}

    def configure(self, camera_config: dict[str, Any]) -> None:
        self.configured = camera_config

    def start(self, config: dict[str, Any] | None = None, show_preview: bool = False) -> None:
        if self.configured is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True

    def capture_file(self, file_output: str, name: str = "main", format: str | None = None) -> None:
        if not self.started:
            raise RuntimeError("Camera is not running")
        with open(file_output, "wb") as fh:
            if World.crash_after is not None:
                fh.write(JPEG[: World.crash_after])
                raise KeyboardInterrupt("power cut mid-write")
            fh.write(JPEG)

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True
