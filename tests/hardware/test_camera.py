"""The picamera2 adapter against a stand-in with picamera2's API and failure modes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import picamera2_standin as standin
import pytest

from hardware.camera import CameraUnavailable, PiCamera2Camera


@pytest.fixture
def picam(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[standin.World]]:
    monkeypatch.setitem(sys.modules, "picamera2", standin)
    standin.World.cameras, standin.World.busy, standin.World.crash_after = 1, False, None
    standin.World.opened = []
    yield standin.World


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_capture_writes_a_complete_still_and_closes(picam, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "photos" / "holding-7.jpg"
    assert PiCamera2Camera(size=(640, 480)).capture_still(target) == target
    assert target.read_bytes() == standin.JPEG
    assert leftovers(target.parent) == ["holding-7.jpg"]
    (cam,) = picam.opened
    assert cam.configured == {"use_case": "still", "main": {"size": (640, 480)}}
    assert cam.closed and not cam.started


def test_no_camera_detected(picam, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    picam.cameras = 0
    with pytest.raises(CameraUnavailable, match="no camera 0 detected"):
        PiCamera2Camera().capture_still(tmp_path / "a.jpg")
    assert leftovers(tmp_path) == []


def test_camera_busy(picam, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    picam.busy = True
    with pytest.raises(CameraUnavailable, match="camera busy"):
        PiCamera2Camera().capture_still(tmp_path / "a.jpg")
    assert leftovers(tmp_path) == []


def test_crash_mid_write_leaves_no_photo(picam, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    picam.crash_after = 100
    target = tmp_path / "holding-1.jpg"
    with pytest.raises(KeyboardInterrupt):
        PiCamera2Camera().capture_still(target)
    assert leftovers(tmp_path) == []  # no truncated photo, no temp file
    assert picam.opened[0].closed


def test_crash_leaves_an_earlier_photo_whole(picam, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "holding-1.jpg"
    PiCamera2Camera().capture_still(target)
    picam.crash_after = 10
    with pytest.raises(KeyboardInterrupt):
        PiCamera2Camera().capture_still(target)
    assert target.read_bytes() == standin.JPEG


def test_picamera2_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import raises ImportError
    with pytest.raises(CameraUnavailable, match="install the 'pi' extra"):
        PiCamera2Camera().capture_still(tmp_path / "a.jpg")
