"""125 kHz UART badge readers (RDM6300 and the ID-12/ID-20 family) over pyserial.

Frame (9600 8N1, ASCII)::

    STX(0x02)  D0..D9 (10 hex chars = 5 bytes)  C0 C1 (2 hex chars)  [CR LF]  ETX(0x03)

The checksum is the XOR of the 5 data bytes. RDM6300 sends no CR LF; ID-12/ID-20 readers send
CR LF before ETX: both are accepted. The UID we report is the 10 hex characters, upper case (the
first byte is the card's version/customer code, the rest the card number).

These readers repeat the frame for as long as the card is held, so we debounce: one
:class:`BadgeTapped` per presentation; the same card again after ``repeat_window_s`` of silence
is a new tap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import serial

from hardware.ports import BadgeTapped
from hardware.reader_thread import ReaderThread

log = logging.getLogger(__name__)

STX, ETX, CR, LF = 0x02, 0x03, 0x0D, 0x0A
_HEX = frozenset(b"0123456789abcdefABCDEF")


def encode_frame(data_hex: str, *, crlf: bool = False) -> bytes:
    """Build a valid frame for ``data_hex`` (10 hex chars); used by the simulator and tests."""
    data = bytes.fromhex(data_hex)
    if len(data) != 5:
        raise ValueError("RDM6300 data is 5 bytes (10 hex characters)")
    check = 0
    for b in data:
        check ^= b
    body = data_hex.upper().encode() + f"{check:02X}".encode()
    return bytes([STX]) + body + (b"\r\n" if crlf else b"") + bytes([ETX])


class BadgeFrameParser:
    """Streaming RDM6300 parser: ``feed(bytes) -> list[str]`` of UIDs; never raises."""

    MAX_BUFFER = 256

    def __init__(self) -> None:
        self._buf = bytearray()
        self.discarded = 0
        self.bad_checksums = 0

    def _check_at(self, i: int) -> int:
        """>0 frame length, 0 not a frame, -1 undecided (need more bytes)."""
        buf = self._buf
        if buf[i] != STX:
            return 0
        avail = buf[i + 1 : i + 13]
        if any(b not in _HEX for b in avail):
            return 0
        if len(avail) < 12:
            return -1
        rest = buf[i + 13 : i + 16]
        if not rest:
            return -1
        if rest[0] == ETX:
            length = 14
        elif rest[0] == CR:
            if len(rest) < 3:
                return -1 if len(rest) == 1 or rest[1] == LF else 0
            if rest[1] != LF or rest[2] != ETX:
                return 0
            length = 16
        else:
            return 0
        data = bytes.fromhex(avail[:10].decode())
        check = 0
        for b in data:
            check ^= b
        if check != int(avail[10:12].decode(), 16):
            self.bad_checksums += 1
            return 0
        return length

    def feed(self, chunk: bytes | bytearray) -> list[str]:
        try:
            self._buf.extend(chunk)
            return self._drain()
        except Exception:  # pragma: no cover - a parser must never take the reader down
            log.exception("badge parser failed; dropping buffer")
            self._buf.clear()
            return []

    def _drain(self) -> list[str]:
        out: list[str] = []
        buf = self._buf
        i = 0
        while i < len(buf):
            res = self._check_at(i)
            if res > 0:
                out.append(buf[i + 1 : i + 11].decode().upper())
                self.discarded += i
                del buf[: i + res]
                i = 0
            elif res == 0:
                i += 1
            else:
                break
        self.discarded += i
        del buf[:i]
        if len(buf) > self.MAX_BUFFER:
            del buf[: len(buf) - self.MAX_BUFFER]
        return out


class SerialBadgeReader(ReaderThread):
    """:class:`hardware.ports.BadgeReader` for an RDM6300-style UART reader."""

    def __init__(
        self,
        name: str,
        port: str,
        baudrate: int = 9600,
        *,
        repeat_window_s: float = 0.5,
        reopen_interval_s: float = 1.0,
        serial_factory: Callable[..., Any] = serial.serial_for_url,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name)
        self.port = port
        self.baudrate = baudrate
        self.repeat_window_s = repeat_window_s
        self.reopen_interval_s = reopen_interval_s
        self._serial_factory = serial_factory
        self._clock = clock
        self._ser: Any = None
        self._parser = BadgeFrameParser()
        self._last_uid: str | None = None
        self._last_seen = 0.0

    def version(self) -> str:
        """UART readers have no version register: report whether the port opens."""
        try:
            self._open()
        except Exception as exc:
            return f"unreadable: {exc}"
        return f"UART reader on {self.port} @ {self.baudrate} baud (no version register)"

    def _open(self) -> Any:
        if self._ser is None:
            self._ser = self._serial_factory(self.port, baudrate=self.baudrate, timeout=0.05)
        return self._ser

    thread_prefix = "uart"

    def _before_thread(self) -> None:
        try:
            # Open now, not in the thread: pyserial flushes input on open, so a badge presented
            # right after start() would otherwise be lost. Failures are reported by the thread.
            self._open()
        except Exception as exc:
            log.debug("reader %s: open at start failed: %s", self.name, exc)

    def _close(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            finally:
                self._ser = None

    def handle_uid(self, uid: str) -> None:
        """Debounce one decoded frame (public for tests)."""
        now = self._clock()
        if uid != self._last_uid or now - self._last_seen > self.repeat_window_s:
            self._emit(BadgeTapped(uid, self.name))
        self._last_uid, self._last_seen = uid, now

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ser = self._open()
                chunk = ser.read(max(1, getattr(ser, "in_waiting", 0) or 1))
            except Exception as exc:  # unplugged USB adapter, permissions, etc.
                self._fault(f"serial port {self.port}: {exc}")
                try:
                    self._close()
                except Exception as close_exc:
                    log.debug("reader %s: close after error: %s", self.name, close_exc)
                self._stop.wait(self.reopen_interval_s)
                continue
            self._recovered()
            for uid in self._parser.feed(chunk):
                self.handle_uid(uid)
