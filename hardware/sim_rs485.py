"""A fake CU16-style RS-485 bus: boards that speak :mod:`hardware.rs485`'s protocol on a pty.

Why a pty (``os.openpty``) and not a mock: the host side then opens a real tty with real pyserial
(termios, timeouts, ``in_waiting``), so the code under test is the code that runs on the Pi.
The board side runs in a daemon thread on the pty master.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from dataclasses import dataclass, field

from hardware.rs485 import (
    CMD_QUERY,
    CMD_UNLOCK,
    LOCKS_PER_BOARD,
    UNLOCK_FAULT,
    UNLOCK_OK,
    Direction,
    Frame,
    FrameParser,
    address,
    status_frame,
)


@dataclass
class FakeBoard:
    """Physical state of one board and the lockers wired to it."""

    address: int
    locks: int = LOCKS_PER_BOARD
    door_closed_bit: int = 1
    """How *this* board happens to be wired: the raw bit it reports for a closed door."""
    occupied_bit: int = 1
    door_open: list[bool] = field(default_factory=list)
    occupied: list[bool] = field(default_factory=list)
    jammed: set[int] = field(default_factory=set)
    silent: bool = False
    corrupt: bool = False
    """Replies with a wrong checksum (a failing transceiver or a noisy line)."""
    unlocks: list[int] = field(default_factory=list)
    """Lock indexes pulsed, in order (tests assert on it)."""
    garbage_prefix: bytes = b""
    """One-shot noise sent just before the next reply (resync must cope with it)."""

    def __post_init__(self) -> None:
        self.door_open = self.door_open or [False] * self.locks
        self.occupied = self.occupied or [False] * self.locks

    def door_bits(self) -> int:
        bits = 0
        for i, is_open in enumerate(self.door_open):
            closed_raw = self.door_closed_bit
            raw = (1 - closed_raw) if is_open else closed_raw
            bits |= raw << i
        return bits

    def occupied_bits(self) -> int:
        bits = 0
        for i, occ in enumerate(self.occupied):
            raw = self.occupied_bit if occ else 1 - self.occupied_bit
            bits |= raw << i
        return bits

    def handle(self, frame: Frame) -> bytes | None:
        """Reply bytes for a request addressed to this board, or None (stay silent)."""
        if self.silent:
            return None
        if frame.command == CMD_QUERY:
            reply = status_frame(self.address, self.door_bits(), self.occupied_bits()).encode()
        elif frame.command == CMD_UNLOCK:
            idx = frame.lock_index
            if idx >= self.locks:
                return None
            self.unlocks.append(idx)
            if idx in self.jammed:
                reply = Frame(address(self.address, idx), CMD_UNLOCK, bytes([UNLOCK_FAULT]))
            else:
                # Spring-loaded door: it pops open when the latch releases.
                self.door_open[idx] = True
                reply = Frame(address(self.address, idx), CMD_UNLOCK, bytes([UNLOCK_OK]))
            reply = reply.encode()
        else:
            return None
        if self.corrupt:
            reply = reply[:-1] + bytes([(reply[-1] + 1) & 0xFF])
        prefix, self.garbage_prefix = self.garbage_prefix, b""
        return prefix + reply


class FakeRS485Bus:
    """Several :class:`FakeBoard` on one pty. ``port`` is the device path for pyserial."""

    def __init__(self, boards: list[FakeBoard]) -> None:
        self.boards = {b.address: b for b in boards}
        self.lock = threading.RLock()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._parser = FrameParser(Direction.REQUEST)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-rs485", daemon=True)
        self._thread.start()

    def board(self, addr: int) -> FakeBoard:
        return self.boards[addr]

    def inject_garbage(self, data: bytes, *, now: bool = False) -> None:
        """Noise on the line towards the host. By default it arrives just ahead of the next reply
        (mid-transaction, where it hurts); ``now=True`` writes it immediately."""
        if now:
            os.write(self._master, data)
            return
        with self.lock:
            for board in self.boards.values():
                board.garbage_prefix += data
                break

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if not ready:
                    continue
                chunk = os.read(self._master, 256)
            except OSError:
                return
            for frame in self._parser.feed(chunk):
                with self.lock:
                    board = self.boards.get(frame.board)
                    reply = board.handle(frame) if board else None
                if reply:
                    with contextlib.suppress(OSError):
                        os.write(self._master, reply)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
