"""Kerong KR-CU16 lock boards on an RS-485 bus, over pyserial.

Wire format (every frame, both directions)::

    STX(0x02)  ADDR  CMD  [DATA...]  ETX(0x03)  SUM

* ``ADDR``: board number in the high nibble (0-15), lock index in the low nibble (0-15 = lock
  1-16). Queries put 0 in the lock nibble; ``0xF0`` addresses every board (all-boards query).
* ``SUM``: the low 8 bits of the arithmetic sum of every preceding byte, STX and ETX included:
  ``sum(frame[:-1]) & 0xFF``. Example: query board 0 = ``02 00 30 03 35``.

Checked against public CU16 drivers found with the search tool: jin0949/KR-CU16_locker (sends
``02 00 30 03 35``, reads a 9-byte ``0x35`` reply), a TypeScript Kerong CU12/CU16 controller
(``getStatus`` = 0x30, ``unlock`` = 0x31 with the lock in the low nibble, ``getAllDevicesStatus``
= 0x32 to address ``0xF0``; every reply of 9 bytes or more parsed as hook 1-8, hook 9-16, IR 1-8,
IR 9-16) and a Python KR-CU16 driver (``UNLOCK = 0x31`` read back as a 9-byte status frame,
``GET_ALL_STATUS = 0x32``, ``RETURN_SINGLE_DATA = 0x35``, ``RETURN_ALL_DATA = 0x36``).

Host -> board (5 bytes, no data):

* ``0x30`` QUERY one board.
* ``0x31`` UNLOCK the lock in the low nibble (the board times the pulse itself).
* ``0x32`` QUERY ALL, to ``0xF0``.

Board -> host:

* ``0x35`` STATUS, 9 bytes: ``02 ADDR 35 H1 H2 I1 I2 03 SUM``, the answer to both 0x30 **and**
  0x31. ``H1``/``H2`` are the lock hook (latch/door) bits for locks 1-8 / 9-16 (bit 0 = lock 1);
  ``I1``/``I2`` the infrared (occupancy) bits. What a raw 1 means is wiring, so it is configured
  per board (``door_closed_bit``, ``occupied_bit``); docs/hardware.md says how to calibrate it.
  There is no separate unlock acknowledgement: a board answers an unlock with its status, or
  with nothing.
* ``0x36`` ALL-BOARDS STATUS: each board answers the all-boards query with a 9-byte frame of the
  0x35 layout under command 0x36. The public drivers name 0x36 but none parses it, so this layout
  is an assumption: any board not heard in the sweep is asked on its own with 0x30, so a firmware
  that answers differently costs one timeout, never a wrong reading.

Unlocks are not idempotent (a second pulse can pop a door someone has just shut), so an unlock
frame goes on the wire **once** per request; only status queries are retried. The outcome comes
from the status the board reports: latch open -> ``OPENED``; latch still closed while the board
answers -> ``JAMMED``; no answer at all -> ``DID_NOT_OPEN`` ("board N not answering") and the door
reads ``UNKNOWN`` until the board answers again.

Bus discipline (DESIGN.md): one command at a time (a lock around each transaction), a minimum
spacing between commands so half-duplex transceivers can turn the line round, input flushed
before each command, and a streaming parser that resyncs after garbage and never raises.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import serial

from hardware.gpio_locks import LockTimings
from hardware.ports import DoorState, UnlockOutcome

log = logging.getLogger(__name__)

STX = 0x02
ETX = 0x03
CMD_QUERY = 0x30
CMD_UNLOCK = 0x31
CMD_QUERY_ALL = 0x32
REPLY_STATUS = 0x35
REPLY_ALL_STATUS = 0x36
ALL_BOARDS = 0xF0
LOCKS_PER_BOARD = 16


class Direction(enum.Enum):
    """Which side's frames a parser expects: the lengths differ per direction."""

    REQUEST = "request"  # host -> board (what a board, or our fake board, parses)
    REPLY = "reply"  # board -> host (what the host parses)


# Total frame length (STX..SUM) per command, per direction.
FRAME_LENGTHS: dict[Direction, dict[int, int]] = {
    Direction.REQUEST: {CMD_QUERY: 5, CMD_UNLOCK: 5, CMD_QUERY_ALL: 5},
    Direction.REPLY: {REPLY_STATUS: 9, REPLY_ALL_STATUS: 9},
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


def query_all_frame() -> Frame:
    return Frame(ALL_BOARDS, CMD_QUERY_ALL)


def unlock_frame(board: int, lock_index: int) -> Frame:
    return Frame(address(board, lock_index), CMD_UNLOCK)


def status_frame(
    board: int, door_bits: int, occupied_bits: int, command: int = REPLY_STATUS
) -> Frame:
    """A board's status frame (0x35, or 0x36 in answer to the all-boards query)."""
    return Frame(
        address(board),
        command,
        bytes(
            [
                door_bits & 0xFF,
                (door_bits >> 8) & 0xFF,
                occupied_bits & 0xFF,
                (occupied_bits >> 8) & 0xFF,
            ]
        ),
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
    """Extra attempts after the first for a *status query* (never for an unlock)."""
    all_boards_query: bool = True
    """Read a bus of several boards with one 0x32 sweep (boards not heard are asked alone)."""


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
        self.answer_s: dict[int, float] = {}
        """Last measured answer time (command written -> reply parsed) per board."""

    def transact(
        self, request: Frame, reply_command: int, *, retries: int | None = None
    ) -> Frame | None:
        """Send ``request``; return the matching reply or None.

        ``retries`` defaults to the bus setting; an unlock passes 0: a command that moves a
        latch must never be repeated just because its answer went missing.
        """
        tries = (self.timings.retries if retries is None else retries) + 1
        want = {request.board}
        with self._lock:
            for attempt in range(tries):
                if attempt:
                    self.stats["retries"] += 1
                got = self._exchange(request, reply_command, want)
                if got:
                    return got[0]
                self.stats["timeouts"] += 1
            return None

    def sweep(self, boards: Iterable[int]) -> dict[int, Frame]:
        """One all-boards query (0x32 to 0xF0): the status frames heard, by board number.

        Accepts 0x36 (the documented answer) and 0x35 (a firmware that answers with its plain
        status). Never retried as a whole: the caller asks any board not heard on its own.
        """
        want = set(boards)
        with self._lock:
            frames = self._exchange(query_all_frame(), (REPLY_ALL_STATUS, REPLY_STATUS), want)
        return {f.board: f for f in frames}

    def _exchange(
        self, request: Frame, reply_command: int | tuple[int, ...], want: set[int]
    ) -> list[Frame]:
        """Write one frame and collect replies from ``want`` until all answered or timeout."""
        gap = self.timings.spacing_s - (self._clock() - self._last_end)
        if gap > 0:
            self._sleep(gap)
        accept = reply_command if isinstance(reply_command, tuple) else (reply_command,)
        got: list[Frame] = []
        try:
            self._ser.reset_input_buffer()
            self._parser.reset()
            sent_at = self._clock()
            self._ser.write(request.encode())
            self._ser.flush()
            self.stats["sent"] += 1
            pending = set(want)
            deadline = self._clock() + self.timings.reply_timeout_s
            while pending and self._clock() < deadline:
                chunk = self._ser.read(max(1, self._ser.in_waiting))
                if not chunk:
                    continue
                for frame in self._parser.feed(chunk):
                    # Another board's late reply or an echo is not ours: keep waiting.
                    if frame.command in accept and frame.board in pending:
                        pending.discard(frame.board)
                        self.answer_s[frame.board] = self._clock() - sent_at
                        got.append(frame)
        except (serial.SerialException, OSError) as exc:
            log.warning("RS-485 %s: %s", getattr(self._ser, "port", "?"), exc)
        finally:
            self._last_end = self._clock()
            self.stats["garbage_bytes"] += self._parser.discarded
            self._parser.discarded = 0
        return got

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


def _decode(frame: Frame | None, at: float) -> _BoardStatus | None:
    if frame is None or len(frame.data) != 4:
        return None
    d = frame.data
    return _BoardStatus(d[0] | d[1] << 8, d[2] | d[3] << 8, at)


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
        seen: set[int] = set()
        n = 1
        for board in self.boards:
            if board.address in seen:
                raise ValueError(f"bank {name}: two boards configured with address {board.address}")
            seen.add(board.address)
            if not 1 <= board.locks <= LOCKS_PER_BOARD:
                raise ValueError(f"bank {name}: board {board.address} has {board.locks} locks")
            for idx in range(board.locks):
                self._map[n] = (board, idx)
                n += 1
        self._cache: dict[int, _BoardStatus] = {}
        self._cache_lock = threading.Lock()
        self.silent_boards: set[int] = set()
        """Boards that did not answer their last query (the fault is logged once per spell)."""
        self.board_faults = 0
        """Times a board went from answering to silent (diagnostics, tests)."""
        self.last_detail = ""
        self._sweep_misses = 0
        self.sweep_enabled = len(self.boards) > 1 and bus.timings.all_boards_query
        """Turned off after 3 sweeps that heard no board while single queries did: a firmware
        that does not know 0x32 then costs three timeouts, not one per read forever."""
        self.all_off()

    def numbers(self) -> list[int]:
        return sorted(self._map)

    def _record(self, board: BoardSpec, status: _BoardStatus | None) -> _BoardStatus | None:
        """Cache a status (or forget one) and log a board going silent / answering, once each."""
        with self._cache_lock:
            if status is None:
                self._cache.pop(board.address, None)
                if board.address not in self.silent_boards:
                    self.silent_boards.add(board.address)
                    self.board_faults += 1
                    log.warning("bank %s: board %s not answering", self.name, board.address)
            else:
                self._cache[board.address] = status
                if board.address in self.silent_boards:
                    self.silent_boards.discard(board.address)
                    log.info("bank %s: board %s answers again", self.name, board.address)
        return status

    def _status(self, board: BoardSpec, fresh: bool = False) -> _BoardStatus | None:
        now = self._clock()
        with self._cache_lock:
            cached = self._cache.get(board.address)
            if not fresh and cached and now - cached.at <= self._status_max_age:
                return cached
        reply = self.bus.transact(query_frame(board.address), REPLY_STATUS)
        status = self._record(board, _decode(reply, self._clock()))
        if status is None:
            self.last_detail = f"board {board.address} not answering"
        return status

    def _door(self, board: BoardSpec, idx: int, status: _BoardStatus | None) -> DoorState:
        if status is None:
            return DoorState.UNKNOWN
        bit = (status.door_bits >> idx) & 1
        return DoorState.CLOSED if bit == board.door_closed_bit else DoorState.OPEN

    def door_state(self, number: int) -> DoorState:
        board, idx = self._where(number)
        return self._door(board, idx, self._status(board))

    def _statuses(self) -> dict[int, _BoardStatus | None]:
        """Every board's status: one all-boards sweep where there are several boards, then a
        (retried) single query for any board the sweep did not hear."""
        out: dict[int, _BoardStatus | None] = {}
        heard: dict[int, Frame] = {}
        if self.sweep_enabled:
            heard = self.bus.sweep(b.address for b in self.boards)
            now = self._clock()
            for b in self.boards:
                if b.address in heard:
                    out[b.address] = self._record(b, _decode(heard[b.address], now))
        for b in self.boards:
            if out.get(b.address) is None:
                out[b.address] = self._status(b, fresh=True)
        if self.sweep_enabled and not heard and any(v is not None for v in out.values()):
            self._sweep_misses += 1
            if self._sweep_misses >= 3:
                self.sweep_enabled = False
                log.info("bank %s: boards do not answer 0x32; querying one by one", self.name)
        elif heard:
            self._sweep_misses = 0
        return out

    def door_states(self) -> dict[int, DoorState]:
        statuses = self._statuses()
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

    def board_answer_times(self) -> dict[int, float | None]:
        """Seconds from command to answer for one status query per board (None: no answer).
        For the technician report: a board near ``reply_timeout_s`` is about to drop out."""
        out: dict[int, float | None] = {}
        for board in self.boards:
            status = self._status(board, fresh=True)
            out[board.address] = None if status is None else self.bus.answer_s.get(board.address)
        return out

    def unlock(self, number: int) -> UnlockOutcome:
        """One unlock frame, then read the latch from the board's own status.

        The 0x35 frame the board answers the unlock with may already show the latch open; if it
        still shows it closed (the board can answer before the latch moves) we ask again, with
        status queries only, until ``confirm_timeout_s``. Whatever happens, the unlock frame is
        not sent a second time: staff can ask again if the door is still shut.
        """
        board, idx = self._where(number)
        t = self.timings
        before = self._status(board, fresh=True)
        if self._door(board, idx, before) is DoorState.OPEN:
            self.last_detail = "door was already open; no pulse sent"
            return UnlockOutcome.ALREADY_OPEN
        start = self._clock()
        reply = self.bus.transact(unlock_frame(board.address, idx), REPLY_STATUS, retries=0)
        status = _decode(reply, self._clock())
        if status is not None:
            self._record(board, status)
        heard = status is not None
        while True:
            if status is not None and self._door(board, idx, status) is DoorState.OPEN:
                self.last_detail = ""
                return UnlockOutcome.OPENED
            if self._clock() - start >= t.confirm_timeout_s:
                break
            self._sleep(t.poll_s)
            status = self._status(board, fresh=True)
            heard = heard or status is not None
        if heard:
            self.last_detail = f"board {board.address} answers but lock {idx + 1} stayed latched"
            return UnlockOutcome.JAMMED
        self._record(board, None)
        self.last_detail = f"board {board.address} not answering"
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
