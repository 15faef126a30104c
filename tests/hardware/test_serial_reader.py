"""UART (RDM6300) reader: real pyserial on a pty."""

from __future__ import annotations

import os
import queue
import tty

from hardware.ports import BadgeTapped
from hardware.serial_reader import BadgeFrameParser, SerialBadgeReader, encode_frame


def test_known_frame_and_crlf_variant() -> None:
    p = BadgeFrameParser()
    frame = encode_frame("0A00F2C3B5")
    assert frame[0] == 2 and frame[-1] == 3 and len(frame) == 14
    assert p.feed(b"junk" + frame + encode_frame("0a00f2c3b5", crlf=True)) == ["0A00F2C3B5"] * 2
    bad = bytearray(frame)
    bad[11] = ord("0") if bad[11] != ord("0") else ord("1")
    assert p.feed(bytes(bad)) == []


def test_pty_reader_debounces_repeats() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    reader = SerialBadgeReader("uart", os.ttyname(slave), repeat_window_s=0.3)
    events: queue.Queue[object] = queue.Queue()
    reader.start(events.put)
    try:
        os.write(master, b"\xff\x00" + encode_frame("0A00F2C3B5") * 4)
        ev = events.get(timeout=2)
        assert isinstance(ev, BadgeTapped) and ev.uid == "0A00F2C3B5"
        assert events.empty() or events.get(timeout=0.2) is None
    finally:
        reader.stop()
        os.close(master)
        os.close(slave)
