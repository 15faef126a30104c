"""A fake KR-CU16 RS-485 bus: boards that answer as real ones do, on a pty.

A real CU16 answers a status query (0x30) *and* an unlock (0x31) with its 9-byte 0x35 status
frame, the all-boards query (0x32 to 0xF0) with one 0x36 frame per board, and anything else with
silence. It never sends an acknowledgement of its own, so neither does this fake. Faults a test
or a person can switch on, per board: ``deaf`` (hears nothing, does nothing), ``silent`` (acts on
commands but its transmitter is dead), ``jammed`` locks (pulsed, latch stays closed), ``corrupt``
(bad checksums) and ``garbage_prefix`` noise ahead of the next reply. Every frame that reaches
the wire is kept in :attr:`FakeRS485Bus.received`, so tests count unlock pulses on the wire.

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
    ALL_BOARDS,
    CMD_QUERY,
    CMD_QUERY_ALL,
    CMD_UNLOCK,
    LOCKS_PER_BOARD,
    REPLY_ALL_STATUS,
    Direction,
    Frame,
    FrameParser,
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
    """Lock indexes whose latch does not release when pulsed."""
    silent: bool = False
    """Transmitter dead: the board still acts on what it hears (an unlock still pulses)."""
    deaf: bool = False
    """Hears nothing (broken A/B, wrong baud rate, powered off): no pulse, no answer."""
    corrupt: bool = False
    """Replies with a wrong checksum (a failing transceiver or a noisy line)."""
    unlocks: list[int] = field(default_factory=list)
    """Lock indexes actually pulsed, in order (tests assert on it)."""
    garbage_prefix: bytes = b""
    """One-shot noise sent just before the next reply (resync must cope with it)."""
    knows_query_all: bool = True
    """False: firmware that ignores the all-boards query (0x32)."""

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
        """Act on a request this board hears; the reply bytes, or None (silence)."""
        if self.deaf:
            return None
        if frame.command == CMD_QUERY_ALL and frame.address == ALL_BOARDS:
            if not self.knows_query_all:
                return None
            reply = status_frame(
                self.address, self.door_bits(), self.occupied_bits(), REPLY_ALL_STATUS
            )
        elif frame.board != self.address:
            return None
        elif frame.command == CMD_QUERY:
            reply = status_frame(self.address, self.door_bits(), self.occupied_bits())
        elif frame.command == CMD_UNLOCK:
            idx = frame.lock_index
            if idx >= self.locks:
                return None
            self.unlocks.append(idx)
            if idx not in self.jammed:
                self.door_open[idx] = True  # spring-loaded door: pops open when released
            reply = status_frame(self.address, self.door_bits(), self.occupied_bits())
        else:
            return None
        if self.silent:
            return None
        raw = reply.encode()
        if self.corrupt:
            raw = raw[:-1] + bytes([(raw[-1] + 1) & 0xFF])
        prefix, self.garbage_prefix = self.garbage_prefix, b""
        return prefix + raw


class FakeRS485Bus:
    """Several :class:`FakeBoard` on one pty. ``port`` is the device path for pyserial."""

    def __init__(self, boards: list[FakeBoard]) -> None:
        self.boards = {b.address: b for b in boards}
        self.lock = threading.RLock()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._parser = FrameParser(Direction.REQUEST)
        self.received: list[Frame] = []
        """Every request frame that reached the wire, in order."""
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
                    self.received.append(frame)
                    # All boards hear every frame; each decides whether it is addressed. On the
                    # all-boards query they answer in address order (their own time slots).
                    replies = [b.handle(frame) for _, b in sorted(self.boards.items())]
                for reply in replies:
                    if reply:
                        with contextlib.suppress(OSError):
                            os.write(self._master, reply)

    def sent(self, command: int) -> list[Frame]:
        """Frames with ``command`` seen on the wire (e.g. ``CMD_UNLOCK``: pulses requested)."""
        with self.lock:
            return [f for f in self.received if f.command == command]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
