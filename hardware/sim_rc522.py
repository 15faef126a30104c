"""An emulated MFRC522 chip behind a fake ``spidev.SpiDev``, plus the fake ``RPi.GPIO`` install.

Why emulate the chip rather than mock the reader class: the real ``mfrc522.MFRC522`` code then
runs unchanged (register writes, FIFO handling, ``MFRC522_Request`` / ``MFRC522_Anticoll`` /
``MFRC522_SelectTag``, CRC co-processor), so tests exercise the exact library the Pi runs.

Emulated (enough for the library, from the NXP MFRC522 datasheet):

* SPI framing: first byte ``(reg << 1) & 0x7E``, bit 7 set for reads.
* Registers: CommandReg (Idle, Transceive, CalcCRC, SoftReset), CommIrqReg / DivIrqReg with the
  Set1 bit semantics, ErrorReg, FIFODataReg / FIFOLevelReg (bit 7 flushes), BitFramingReg
  (StartSend, TxLastBits), ControlReg (RxLastBits), TxControlReg (antenna bits), VersionReg.
* A card (ISO 14443-A) with the IDLE/READY/ACTIVE/HALT states: REQA (7 bits), WUPA, anticollision
  cascade level 1 (UID + BCC), SELECT with CRC_A checked and SAK+CRC_A returned, HLTA. As with
  real cards, a card left on the reader does not answer every REQA (READY/ACTIVE -> IDLE on an
  unexpected command), so the reader's debounce is tested against realistic flicker.
* No RF field unless the antenna bits are on: after a reset the chip hears no cards until
  ``MFRC522_Init`` runs again, which is exactly why the adapter re-inits after recovery.
* The chip's timer (TModeReg / TPrescalerReg / TReloadReg, datasheet 8.5): with TAuto set it
  starts when a transmission ends and sets TimerIRq in CommIrqReg after
  ``(TReload + 1) * (2 * TPrescaler + 1) / 13.56 MHz`` (15.5 ms with mfrc522's set-up); with
  the power-on values (all zero, TAuto clear) it never runs. Time comes from an injected clock;
  with a :class:`ManualClock` every SPI transfer also advances it by its bit time on the wire, so
  a loop that reads registers instead of waiting costs simulated time as it would on a Pi. The
  library's wait loop does not stop on TimerIRq, so here, as on the real chip, an empty poll
  through ``MFRC522_Request`` costs its full 2,000 register reads.
* Faults: SPI-level deafness (every read 0x00 / 0xFF, or OSError: a reader that browned out or
  lost its SPI connection); a receiver that hears no cards until a SoftReset (``make_rf_deaf``,
  what a solenoid's noise can leave behind while the chip still answers its version register);
  the antenna bits cleared (``clear_antenna``); every register back at its power-on value
  (``reset_registers``: antenna off, timer stopped); and ``noisy``, where card answers arrive
  with a parity error.
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import importlib.util
import io
import sys
import threading
import time
import types
from collections.abc import Callable

from hardware.rc522 import timer_timeout_s

# Register addresses (datasheet section 9).
COMMAND, COMM_IEN, DIV_IEN, COMM_IRQ, DIV_IRQ, ERROR = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
FIFO_DATA, FIFO_LEVEL, CONTROL, BIT_FRAMING = 0x09, 0x0A, 0x0C, 0x0D
TX_CONTROL, CRC_RESULT_M, CRC_RESULT_L, VERSION = 0x14, 0x21, 0x22, 0x37
MODE, TX_AUTO, T_MODE, T_PRESCALER, T_RELOAD_H, T_RELOAD_L = 0x11, 0x15, 0x2A, 0x2B, 0x2C, 0x2D
TIMER_IRQ, RX_IRQ, IDLE_IRQ = 0x01, 0x20, 0x10

PCD_IDLE, PCD_CALCCRC, PCD_TRANSCEIVE, PCD_SOFTRESET = 0x00, 0x03, 0x0C, 0x0F


def crc_a(data: bytes | list[int]) -> list[int]:
    """ISO/IEC 14443-3 CRC_A (init 0x6363, reflected poly 0x8408), low byte first."""
    crc = 0x6363
    for byte in data:
        b = (byte ^ crc) & 0xFF
        b = (b ^ (b << 4)) & 0xFF
        crc = ((crc >> 8) ^ (b << 8) ^ (b << 3) ^ (b >> 4)) & 0xFFFF
    return [crc & 0xFF, crc >> 8]


class CardState(enum.Enum):
    IDLE = "idle"
    READY = "ready"
    ACTIVE = "active"
    HALT = "halt"


class Card:
    """An ISO 14443-A card with a 4-byte (single size) UID, as most staff badges are."""

    def __init__(self, uid: bytes) -> None:
        if len(uid) != 4:
            raise ValueError("emulated cards have 4-byte UIDs")
        self.uid = uid
        self.state = CardState.IDLE
        self.sak = 0x08  # MIFARE Classic 1K

    def bcc(self) -> int:
        return self.uid[0] ^ self.uid[1] ^ self.uid[2] ^ self.uid[3]

    def respond(self, data: list[int], tx_last_bits: int) -> list[int] | None:
        """The card's answer to one frame, or None (silence)."""
        if tx_last_bits == 7 and data in ([0x26], [0x52]):  # REQA / WUPA (short frames)
            wakes = (CardState.IDLE,) if data == [0x26] else (CardState.IDLE, CardState.HALT)
            if self.state in wakes:
                self.state = CardState.READY
                return [0x04, 0x00]  # ATQA
            if self.state is not CardState.HALT:
                self.state = CardState.IDLE
            return None
        if data == [0x93, 0x20] and self.state is CardState.READY:
            return [*self.uid, self.bcc()]
        if (
            len(data) == 9
            and data[:2] == [0x93, 0x70]
            and self.state is CardState.READY
            and bytes(data[2:6]) == self.uid
            and data[6] == self.bcc()
            and data[7:9] == crc_a(data[:7])
        ):
            self.state = CardState.ACTIVE
            return [self.sak, *crc_a([self.sak])]
        if len(data) == 4 and data[:2] == [0x50, 0x00] and data[2:] == crc_a(data[:2]):
            self.state = CardState.HALT
            return None
        # Anything unexpected sends a card back to IDLE (HALT stays HALT).
        if self.state is not CardState.HALT:
            self.state = CardState.IDLE
        return None


class DeafMode(enum.Enum):
    ZEROS = "zeros"
    ONES = "ones"
    OSERROR = "oserror"


class ManualClock:
    """A clock that moves only when told: ``sleep`` advances it. Tests and the chip share one, so
    "within 5 s" is simulated seconds, never wall time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)

    sleep = advance


class FakeMFRC522Chip:
    """Register-level MFRC522 emulation. Thread-safe: the reader thread talks SPI while the
    simulator or a test places and removes cards."""

    def __init__(self, version: int = 0x92, clock: Callable[[], float] | None = None) -> None:
        self._lock = threading.RLock()
        self.version_value = version
        self.clock: Callable[[], float] = clock or time.monotonic
        self.card: Card | None = None
        self.deaf: DeafMode | None = None
        self.rf_deaf = False
        self.noisy = False
        self.resets = 0
        self.transfers = 0
        self._timer_deadline: float | None = None
        self._power_on_reset()

    # -- controls ----------------------------------------------------------------------------
    def place_card(self, uid: str | bytes) -> None:
        with self._lock:
            raw = bytes.fromhex(uid) if isinstance(uid, str) else uid
            self.card = Card(raw)

    def remove_card(self) -> None:
        with self._lock:
            self.card = None

    def make_deaf(self, mode: DeafMode = DeafMode.ZEROS) -> None:
        with self._lock:
            self.deaf = mode

    def make_rf_deaf(self, deaf: bool = True) -> None:
        """The receiver hears no cards; registers and version still read fine. A SoftReset
        (``MFRC522_Init``) clears it, as a re-init clears a real chip's latched-up front end."""
        with self._lock:
            self.rf_deaf = deaf

    def clear_antenna(self) -> None:
        """TxControlReg's Tx1RFEn/Tx2RFEn dropped: no field, so no card can answer."""
        with self._lock:
            self.regs[TX_CONTROL] &= ~0x03

    def reset_registers(self) -> None:
        """Every register at its power-on value (a brown-out the chip survived): antenna off,
        timer stopped, until the host runs MFRC522_Init again."""
        with self._lock:
            self._power_on_reset()

    def recover(self) -> None:
        """Come back from deafness as a real chip does after a brown-out: registers at their
        power-on values, antenna off, until the host runs MFRC522_Init again."""
        with self._lock:
            self.deaf = None
            self._power_on_reset()

    @property
    def antenna_on(self) -> bool:
        return bool(self.regs[TX_CONTROL] & 0x03)

    def spi_factory(self) -> FakeSpiDev:
        """Drop-in for ``spidev.SpiDev`` (called with no arguments, like the real one)."""
        return FakeSpiDev(self)

    # -- SPI ---------------------------------------------------------------------------------
    def xfer(self, data: list[int], speed_hz: int = 1_000_000) -> list[int]:
        with self._lock:
            self.transfers += 1
            if isinstance(self.clock, ManualClock) and speed_hz > 0:
                self.clock.advance(len(data) * 8 / speed_hz)
            if self.deaf is DeafMode.OSERROR:
                raise OSError(121, "Remote I/O error")
            if len(data) < 2:
                return [0] * len(data)
            reg = (data[0] >> 1) & 0x3F
            if self.deaf is not None:
                fill = 0xFF if self.deaf is DeafMode.ONES else 0x00
                return [fill] * len(data)
            if data[0] & 0x80:
                return [0, self._read(reg)]
            self._write(reg, data[1] & 0xFF)
            return [0, 0]

    def _power_on_reset(self) -> None:
        self.regs = [0] * 64
        self.regs[COMMAND] = 0x20
        self.regs[TX_CONTROL] = 0x80
        self.regs[COMM_IEN] = 0x80
        self.regs[VERSION] = self.version_value
        self.fifo: list[int] = []
        self.regs[MODE] = 0x3F
        self.irq = 0x14
        self.div_irq = 0x00
        self.errors = 0x00
        self._timer_deadline = None

    def _read(self, reg: int) -> int:
        if reg == FIFO_DATA:
            return self.fifo.pop(0) if self.fifo else 0
        if reg == FIFO_LEVEL:
            return len(self.fifo)
        if reg == COMM_IRQ:
            if self._timer_deadline is not None and self.clock() >= self._timer_deadline:
                self._timer_deadline = None
                self.irq |= TIMER_IRQ
            return self.irq
        if reg == DIV_IRQ:
            return self.div_irq
        if reg == ERROR:
            return self.errors
        if reg == VERSION:
            return self.version_value
        return self.regs[reg]

    def _write(self, reg: int, val: int) -> None:
        if reg == FIFO_DATA:
            if len(self.fifo) < 64:
                self.fifo.append(val)
        elif reg == FIFO_LEVEL:
            if val & 0x80:
                self.fifo.clear()
        elif reg == COMM_IRQ:
            self.irq = (self.irq | (val & 0x7F)) if val & 0x80 else (self.irq & ~val & 0x7F)
        elif reg == DIV_IRQ:
            bits = val & 0x14
            self.div_irq = (self.div_irq | bits) if val & 0x80 else (self.div_irq & ~bits)
        elif reg == COMMAND:
            self._command(val & 0x0F)
        elif reg == BIT_FRAMING:
            self.regs[reg] = val
            if val & 0x80 and (self.regs[COMMAND] & 0x0F) == PCD_TRANSCEIVE:
                self._transceive(val & 0x07)
        else:
            self.regs[reg] = val

    def _command(self, cmd: int) -> None:
        if cmd == PCD_SOFTRESET:
            self.resets += 1
            self.rf_deaf = False
            self._power_on_reset()
            return
        self.regs[COMMAND] = (self.regs[COMMAND] & 0xF0) | cmd
        self._timer_deadline = None  # a new command: the last transceive's timer is moot
        if cmd == PCD_CALCCRC:
            low, high = crc_a(self.fifo)
            self.fifo.clear()
            self.regs[CRC_RESULT_L], self.regs[CRC_RESULT_M] = low, high
            self.div_irq |= 0x04

    def _transceive(self, tx_last_bits: int) -> None:
        sent, self.fifo = self.fifo, []
        self.errors = 0
        self.regs[CONTROL] &= ~0x07
        answer = None
        if self.card is not None and self.antenna_on and not self.rf_deaf:
            answer = self.card.respond(sent, tx_last_bits)
        if answer is None:
            # Nobody answers: TimerIRq is set when the programmed timer runs out (never, if the
            # timer is not set up). The Transceive command stays active, so no IdleIRq.
            timeout = timer_timeout_s(
                self.regs[T_MODE],
                self.regs[T_PRESCALER],
                self.regs[T_RELOAD_H],
                self.regs[T_RELOAD_L],
            )
            self._timer_deadline = None if timeout is None else self.clock() + timeout
        else:
            self._timer_deadline = None
            self.fifo = list(answer)
            self.irq |= RX_IRQ | IDLE_IRQ
            if self.noisy:
                self.errors |= 0x02  # ParityErr


class FakeSpiDev:
    """The subset of ``spidev.SpiDev`` that mfrc522 uses."""

    def __init__(self, chip: FakeMFRC522Chip) -> None:
        self._chip = chip
        self.max_speed_hz = 0
        self.mode = 0
        self.opened: tuple[int, int] | None = None

    def open(self, bus: int, device: int) -> None:
        self.opened = (bus, device)

    def xfer2(self, data: list[int]) -> list[int]:
        if self.opened is None:
            raise OSError(9, "Bad file descriptor")
        return self._chip.xfer(list(data), self.max_speed_hz)

    xfer = xfer2

    def close(self) -> None:
        self.opened = None


def install_fake_rpi() -> None:
    """Put fake_rpi's ``RPi.GPIO`` into ``sys.modules`` so mfrc522 imports on a non-Pi.

    Only the simulator calls this. It refuses when a real RPi.GPIO is already loaded (that
    process is driving real hardware) and silences fake_rpi's print-on-every-call.
    """
    existing = sys.modules.get("RPi.GPIO")
    if existing is not None:
        if getattr(existing, "__fake_rpi__", False) or type(existing).__name__ == "_GPIO":
            return
        raise RuntimeError(
            "a real RPi.GPIO is already loaded in this process; refusing to install the "
            "simulator's fake over it (run the simulator in its own process)"
        )
    with contextlib.redirect_stdout(io.StringIO()):
        rpi, wrappers = _fake_rpi_gpio_module()
        wrappers.toggle_print(False)
    sys.modules["RPi"] = rpi
    sys.modules["RPi.GPIO"] = rpi.GPIO


def _fake_rpi_gpio_module() -> tuple[types.ModuleType, types.ModuleType]:
    """``fake_rpi.RPi`` without running ``fake_rpi/__init__.py``.

    Why: that ``__init__`` also imports fake_rpi's picamera, which imports numpy (~0.15 s and
    ~15 MB here, a large share of ``kiosk run --simulate``'s start-up, issue 15) for a camera
    the simulator never uses. ``fake_rpi.RPi`` needs only ``fake_rpi.wrappers`` and
    ``fake_rpi.Base``. When the package is already imported it is used as it is; otherwise a
    bare package module stands in while these three load, and all four are then dropped from
    ``sys.modules`` (the returned modules live on as ``RPi``), so a later ``import fake_rpi``
    loads the whole package as usual.
    """
    if "fake_rpi" in sys.modules:
        import fake_rpi.RPi
        from fake_rpi import wrappers

        return fake_rpi.RPi, wrappers
    spec = importlib.util.find_spec("fake_rpi")
    if spec is None or spec.submodule_search_locations is None:
        raise RuntimeError("fake_rpi is not installed: pip install fake-rpi (the simulator)")
    stand_in = types.ModuleType("fake_rpi")
    stand_in.__path__ = list(spec.submodule_search_locations)
    sys.modules["fake_rpi"] = stand_in
    try:
        rpi = importlib.import_module("fake_rpi.RPi")
        return rpi, sys.modules["fake_rpi.wrappers"]
    finally:
        for name in ("fake_rpi", "fake_rpi.RPi", "fake_rpi.wrappers", "fake_rpi.Base"):
            sys.modules.pop(name, None)


SpiFactory = Callable[[], object]
