"""Kerong CU16-style lock boards on an RS-485 bus, over pyserial.

Wire format (every frame, both directions)::

    STX(0x02)  ADDR  CMD  [DATA...]  ETX(0x03)  SUM

* ``ADDR``: board number in the high nibble (0-15), lock index in the low nibble (0-15 = lock
  1-16). Queries put 0 in the lock nibble.
* ``SUM``: the low 8 bits of the arithmetic sum of every preceding byte, STX and ETX included:
  ``sum(frame[:-1]) & 0xFF``. Example: query board 0 = ``02 00 30 03 35``. This is the rule used by
  public CU16 drivers found with the search tool, e.g. ``calc_checksum = sum(data) & 0xFF`` over
  ``[STX, addr, CMD, ETX]`` in jin0949/KR-CU16_locker (``locker.py``), which also sends exactly
  ``02 00 30 03 35`` and reads a 9-byte ``0x35`` status reply.

Commands we implement (host -> board, 5 bytes, no data):

* ``0x30`` QUERY: status of every lock on the board.
* ``0x31`` UNLOCK: pulse the lock in the low nibble (the board times the pulse itself).

Replies (board -> host):

* ``0x35`` STATUS, 9 bytes: ``02 ADDR 35 D1 D2 O1 O2 03 SUM``. ``D1``/``D2`` are the raw door
  (lock hook) sensor bits for locks 1-8 / 9-16 (bit 0 = lock 1); ``O1``/``O2`` the raw occupancy
  (IR) bits. What a raw 1 means is wiring, so it is configured per board (``door_closed_bit``,
  ``occupied_bit``); docs/hardware.md says how to calibrate it.
* ``0x31`` UNLOCK ACK, 6 bytes: ``02 ADDR 31 RC 03 SUM``; ``RC`` 0x00 = pulse delivered,
  anything else = lock fault (open coil, over-current, motor stalled) -> ``JAMMED``.

Real CU16 firmware revisions differ in what they answer to an unlock; this module plus the fake
board in :mod:`hardware.sim_rs485` are the executable contract, and a board that never acks an
unlock is still confirmed (or not) by its door sensor.

Bus discipline (DESIGN.md): one command at a time (a lock around each transaction), a minimum
spacing between commands so half-duplex transceivers can turn the line round, bounded retries on
timeout or bad checksum, input flushed before each command, and a streaming parser that resyncs
after garbage and never raises. A board that stops answering gives ``UNKNOWN`` door states (the
door monitor turns that into ``SensorFault``) instead of an exception into the caller.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import serial

from hardware.gpio_locks import LockTimings
from hardware.ports import DoorState, UnlockOutcome

log = logging.getLogger(__name__)

STX = 0x02
ETX = 0x03
CMD_QUERY = 0x30
CMD_UNLOCK = 0x31
REPLY_STATUS = 0x35
UNLOCK_OK = 0x00
UNLOCK_FAULT = 0x01
LOCKS_PER_BOARD = 16


class Direction(enum.Enum):
    """Which side's frames a parser expects: the lengths differ per direction."""

    REQUEST = "request"  # host -> board (what a board, or our fake board, parses)
    REPLY = "reply"  # board -> host (what the host parses)


# Total frame length (STX..SUM) per command, per direction.
FRAME_LENGTHS: dict[Direction, dict[int, int]] = {
    Direction.REQUEST: {CMD_QUERY: 5, CMD_UNLOCK: 5},
    Direction.REPLY: {REPLY_STATUS: 9, CMD_UNLOCK: 6},
}


def checksum(data: bytes | bytearray | Sequence[int]) -> int:
    """Low 8 bits of the sum of ``data`` (STX..ETX inclusive)."""
    return sum(data) & 0xFF


@dataclass(frozen=True)
class Frame:
    """One decoded frame. ``data`` excludes STX/ADDR/CMD/ETX/SUM."""

    address: int
    command: int
    data: bytes = b""

    @property
    def board(self) -> int:
        return (self.address >> 4) & 0x0F

    @property
    def lock_index(self) -> int:
        return self.address & 0x0F

    def encode(self) -> bytes:
        body = bytes([STX, self.address & 0xFF, self.command & 0xFF, *self.data, ETX])
        return body + bytes([checksum(body)])


def address(board: int, lock_index: int = 0) -> int:
    """ADDR byte: board in the high nibble, 0-based lock index in the low nibble."""
    if not (0 <= board <= 15 and 0 <= lock_index <= 15):
        raise ValueError(f"board {board} / lock index {lock_index} out of range 0-15")
    return (board << 4) | lock_index


def query_frame(board: int) -> Frame:
    return Frame(address(board), CMD_QUERY)


def unlock_frame(board: int, lock_index: int) -> Frame:
    return Frame(address(board, lock_index), CMD_UNLOCK)


def status_frame(board: int, door_bits: int, occupied_bits: int) -> Frame:
    return Frame(
        address(board),
        REPLY_STATUS,
        bytes([door_bits & 0xFF, (door_bits >> 8) & 0xFF,
               occupied_bits & 0xFF, (occupied_bits >> 8) & 0xFF]),
    )


class FrameParser:
    """Streaming frame parser: ``feed(bytes) -> list[Frame]``; keeps partial frames; never raises.

    Resynchronisation: at each STX we try the length the command implies; if ETX or SUM do not
    match, that STX was noise and we move on by ONE byte (a real frame may start inside what
    looked like a frame). While a candidate is still incomplete we look further ahead: if a
    complete valid frame starts later in the buffer, the incomplete candidate was a stray STX in
    garbage, and waiting for it would hold the real reply hostage.
    """

    MAX_BUFFER = 512

    def __init__(self, direction: Direction = Direction.REPLY) -> None:
        self._lengths = FRAME_LENGTHS[direction]
        self._buf = bytearray()
        self.discarded = 0
        """Bytes thrown away as garbage (diagnostics)."""

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, chunk: bytes | bytearray) -> list[Frame]:
        try:
            self._buf.extend(chunk)
            return self._drain()
        except Exception:  # pragma: no cover - defensive: a parser must never take the bus down
            log.exception("frame parser failed; dropping buffer")
            self.discarded += len(self._buf)
            self._buf.clear()
            return []

    def _check_at(self, i: int) -> int:
        """>0: valid frame length at i; 0: not a frame at i; -1: incomplete, undecided."""
        buf = self._buf
        if buf[i] != STX:
            return 0
        if i + 2 >= len(buf):
            return -1
        length = self._lengths.get(buf[i + 2])
        if length is None:
            return 0
        if i + length > len(buf):
            return -1
        frame = buf[i : i + length]
        if frame[-2] != ETX or frame[-1] != checksum(frame[:-1]):
            return 0
        return length

    def _drain(self) -> list[Frame]:
        out: list[Frame] = []
        buf = self._buf
        i = 0
        while i < len(buf):
            res = self._check_at(i)
            if res > 0:
                frame = buf[i : i + res]
                out.append(Frame(frame[1], frame[2], bytes(frame[3:-2])))
                self.discarded += i
                del buf[: i + res]
                i = 0
                continue
            if res == 0:
                i += 1
                continue
            # incomplete candidate at i: is there a complete valid frame further on?
            j = next(
                (k for k in range(i + 1, len(buf)) if buf[k] == STX and self._check_at(k) > 0),
                None,
            )
            if j is None:
                break
            i = j
        else:
            # everything scanned was garbage
            self.discarded += len(buf)
            buf.clear()
            return out
        # keep from the first undecided STX
        self.discarded += i
        del buf[:i]
        if len(buf) > self.MAX_BUFFER:
            self.discarded += len(buf) - self.MAX_BUFFER
            del buf[: len(buf) - self.MAX_BUFFER]
        return out


@dataclass(frozen=True)
class BusTimings:
    """RS-485 timings: generous defaults for 19200 baud and 16-lock boards."""

    reply_timeout_s: float = 0.15
    spacing_s: float = 0.03
    """Minimum gap between the end of one transaction and the next command."""
    retries: int = 2
    """Extra attempts after the first, on timeout or a corrupt/mismatched reply."""


class RS485Bus:
    """One serial port shared by several boards. Transactions are serialised by a lock."""

    def __init__(
        self,
        port: str | serial.SerialBase,
        baudrate: int = 19200,
        timings: BusTimings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timings = timings or BusTimings()
        self._clock = clock
        self._sleep = sleep
        if isinstance(port, serial.SerialBase):
            self._ser = port
        else:
            # serial_for_url accepts device paths and pyserial URLs (loop://, socket://...).
            self._ser = serial.serial_for_url(port, baudrate=baudrate, timeout=0.01)
        self._ser.timeout = 0.01
        self._lock = threading.Lock()
        self._parser = FrameParser(Direction.REPLY)
        self._last_end = 0.0
        self.stats = {"sent": 0, "timeouts": 0, "retries": 0, "garbage_bytes": 0}

    def transact(self, request: Frame, reply_command: int) -> Frame | None:
        """Send ``request`` and return the matching reply, or None after bounded retries."""
        t = self.timings
        with self._lock:
            for attempt in range(t.retries + 1):
                if attempt:
                    self.stats["retries"] += 1
                gap = t.spacing_s - (self._clock() - self._last_end)
                if gap > 0:
                    self._sleep(gap)
                try:
                    self._ser.reset_input_buffer()
                    self._parser.reset()
                    self._ser.write(request.encode())
                    self._ser.flush()
                    self.stats["sent"] += 1
                    reply = self._await(request.address, reply_command)
                except (serial.SerialException, OSError) as exc:
                    log.warning("RS-485 %s: %s", getattr(self._ser, "port", "?"), exc)
                    reply = None
                finally:
                    self._last_end = self._clock()
                self.stats["garbage_bytes"] += self._parser.discarded
                self._parser.discarded = 0
                if reply is not None:
                    return reply
                self.stats["timeouts"] += 1
            return None

    def _await(self, addr: int, reply_command: int) -> Frame | None:
        deadline = self._clock() + self.timings.reply_timeout_s
        while self._clock() < deadline:
            chunk = self._ser.read(max(1, self._ser.in_waiting))
            if not chunk:
                continue
            for frame in self._parser.feed(chunk):
                # Another board's late reply or an echo is not ours: keep waiting.
                if frame.command == reply_command and frame.board == (addr >> 4):
                    return frame
        return None

    def close(self) -> None:
        with self._lock:
            self._ser.close()


@dataclass(frozen=True)
class BoardSpec:
    """One CU16-style board on the bus."""

    address: int
    """Board number 0-15 (DIP switches on the board)."""
    locks: int = LOCKS_PER_BOARD
    door_closed_bit: int = 1
    """Raw status bit value that means "door closed". Calibrate: see docs/hardware.md."""
    occupied_bit: int | None = None
    """Raw IR bit meaning "occupied", or None if no occupancy sensors are fitted."""


@dataclass
class _BoardStatus:
    door_bits: int
    occupied_bits: int
    at: float


class RS485LockBank:
    """:class:`hardware.ports.LockBank` over CU16-style boards. Lockers are numbered 1..N across
    the boards in the order given (board 0 locks 1-16 = lockers 1-16, next board continues)."""

    def __init__(
        self,
        name: str,
        bus: RS485Bus,
        boards: Sequence[BoardSpec],
        timings: LockTimings | None = None,
        *,
        status_max_age_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.bus = bus
        self.boards = list(boards)
        self.timings = timings or LockTimings()
        self._status_max_age = status_max_age_s
        self._clock = clock
        self._sleep = sleep
        self._map: dict[int, tuple[BoardSpec, int]] = {}
        n = 1
        for board in self.boards:
            if not 1 <= board.locks <= LOCKS_PER_BOARD:
                raise ValueError(f"bank {name}: board {board.address} has {board.locks} locks")
            for idx in range(board.locks):
                self._map[n] = (board, idx)
                n += 1
        self._cache: dict[int, _BoardStatus] = {}
        self._cache_lock = threading.Lock()
        self.last_detail = ""
        self.all_off()

    def numbers(self) -> list[int]:
        return sorted(self._map)

    def _status(self, board: BoardSpec, fresh: bool = False) -> _BoardStatus | None:
        now = self._clock()
        with self._cache_lock:
            cached = self._cache.get(board.address)
            if not fresh and cached and now - cached.at <= self._status_max_age:
                return cached
        reply = self.bus.transact(query_frame(board.address), REPLY_STATUS)
        if reply is None or len(reply.data) != 4:
            with self._cache_lock:
                self._cache.pop(board.address, None)
            self.last_detail = f"board {board.address} did not answer"
            return None
        d = reply.data
        status = _BoardStatus(d[0] | d[1] << 8, d[2] | d[3] << 8, self._clock())
        with self._cache_lock:
            self._cache[board.address] = status
        return status

    def _door(self, board: BoardSpec, idx: int, status: _BoardStatus | None) -> DoorState:
        if status is None:
            return DoorState.UNKNOWN
        bit = (status.door_bits >> idx) & 1
        return DoorState.CLOSED if bit == board.door_closed_bit else DoorState.OPEN

    def door_state(self, number: int) -> DoorState:
        board, idx = self._where(number)
        return self._door(board, idx, self._status(board))

    def door_states(self) -> dict[int, DoorState]:
        statuses = {b.address: self._status(b) for b in self.boards}
        return {n: self._door(b, i, statuses[b.address]) for n, (b, i) in self._map.items()}

    def occupied(self, number: int) -> bool | None:
        board, idx = self._where(number)
        if board.occupied_bit is None:
            return None
        status = self._status(board)
        if status is None:
            return None
        return ((status.occupied_bits >> idx) & 1) == board.occupied_bit

    def raw_door_bit(self, number: int) -> int | None:
        """Raw sensor bit for calibration (``kiosk hw test``); None if the board is silent."""
        board, idx = self._where(number)
        status = self._status(board, fresh=True)
        return None if status is None else (status.door_bits >> idx) & 1

    def unlock(self, number: int) -> UnlockOutcome:
        board, idx = self._where(number)
        t = self.timings
        before = self._door(board, idx, self._status(board, fresh=True))
        if before is DoorState.OPEN:
            self.last_detail = "door was already open; no pulse sent"
            return UnlockOutcome.ALREADY_OPEN
        start = self._clock()
        ack = self.bus.transact(unlock_frame(board.address, idx), CMD_UNLOCK)
        if ack is not None and ack.data[:1] != bytes([UNLOCK_OK]):
            self.last_detail = f"board {board.address} reported lock fault {ack.data.hex()}"
            return UnlockOutcome.JAMMED
        if ack is None:
            # Maybe the pulse went out and only the ack was lost: the sensor decides.
            log.warning("bank %s: no ack for unlock of locker %s", self.name, number)
        while True:
            state = self._door(board, idx, self._status(board, fresh=True))
            if state is DoorState.OPEN:
                self.last_detail = ""
                return UnlockOutcome.OPENED
            if self._clock() - start >= t.confirm_timeout_s:
                break
            self._sleep(t.poll_s)
        self.last_detail = (
            f"board {board.address} did not answer" if ack is None else "door sensor saw no change"
        )
        return UnlockOutcome.DID_NOT_OPEN

    def all_off(self) -> None:
        """CU16 boards time their own pulses, so there is nothing held on to release; we drop
        cached state so the next read comes from the wire (start-up reconciliation)."""
        with self._cache_lock:
            self._cache.clear()

    def close(self) -> None:
        self.all_off()
        self.bus.close()

    def locate(self, number: int) -> tuple[BoardSpec, int]:
        """(board, 0-based lock index) of a locker number."""
        return self._where(number)

    def _where(self, number: int) -> tuple[BoardSpec, int]:
        try:
            return self._map[number]
        except KeyError:
            raise KeyError(f"bank {self.name} has no locker {number}") from None
