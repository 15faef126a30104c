"""RC522 (NXP MFRC522) badge reader on SPI, using the real ``mfrc522.MFRC522`` low-level class.

Why not ``SimpleMFRC522.read()``: it loops until a card appears, so it cannot be stopped,
health-checked or shared. We poll ``MFRC522_Request`` + ``MFRC522_Anticoll`` + ``MFRC522_SelectTag``
from our own daemon thread; each of those is bounded (the library caps its IRQ wait loops).

Pi pitfalls handled here (see docs/hardware.md):

* Pin numbering: ``MFRC522.__init__`` calls ``GPIO.setmode(BOARD)`` unless a mode is already set,
  and gpiozero (and the rest of this project) uses BCM numbers. We always pass ``pin_mode=BCM``
  and a BCM reset pin (default BCM 25 = physical pin 22, the usual RC522 RST wiring), and refuse
  to start if someone already put RPi.GPIO into BOARD mode (the RST pin would be wrong).
* ``Close_MFRC522`` calls ``GPIO.cleanup()`` for *every* channel in the process; we close the SPI
  device and clean up only our RST pin instead.
* The library adds a ``StreamHandler`` to ``mfrc522Logger`` on every construction, which would
  scribble on the Textual UI. We remove it, add a NullHandler and let records propagate to the
  application's logging configuration.
* The library's wait loop (``MFRC522_ToCard``) tests the timer interrupt with a bitwise ``~``
  (``~(n & 0x01)`` is always true), so it never stops on the chip's timer and, whenever no card
  answers, runs its full 2,000 ``CommIrqReg`` reads: >= 32 ms of SPI traffic at 1 MHz per empty
  poll and a core kept busy. We keep the library for register I/O (``Read_MFRC522`` /
  ``Write_MFRC522``, ``CalulateCRC``, ``MFRC522_Init``) but run the transceive ourselves with a
  bounded wait that ends on TimerIRq: a handful of reads spaced out on a widening schedule, so
  an empty poll is ~20 SPI transfers and the thread sleeps while the chip's timer runs.
* Readers go deaf (mxgxw/MFRC522-python#21, pimylifeup/MFRC522-python#18, miguelbalboa/rfid#540),
  often after a lock solenoid's electrical noise. Three guards: the version register every
  ``health_check_s`` (0x00/0xFF or SPI errors = ``ReaderFault``, then RST pulse + re-init until
  it answers = ``ReaderRecovered``); the set-up registers (antenna bits, timer) checked with it
  and before every idle re-init: a reader that lost them is a ``ReaderFault``, restored at once,
  then ``ReaderRecovered``; and an idle reader is re-initialised every ``idle_reinit_s``, because
  a receiver that hears nothing while its registers look right cannot be told from an empty
  field: re-initialising is the only cure, and it costs ~15 transfers.
* Pi 5: RPi.GPIO is provided by ``rpi-lgpio`` (the ``pi`` extra); the API is the same.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import types
from collections.abc import Callable
from typing import Any

from hardware.ports import BadgeTapped
from hardware.reader_thread import ReaderThread

log = logging.getLogger(__name__)

VERSION_REG = 0x37
COMM_IRQ_REG, ERROR_REG, FIFO_LEVEL_REG, FIFO_DATA_REG = 0x04, 0x06, 0x0A, 0x09
CONTROL_REG, BIT_FRAMING_REG, COMMAND_REG, COMM_IEN_REG = 0x0C, 0x0D, 0x01, 0x02
TX_CONTROL_REG = 0x14
PCD_IDLE, PCD_TRANSCEIVE = 0x00, 0x0C
MI_OK, MI_NOTAG, MI_ERR = 0, 1, 2
GPIO_BCM = 11
CHIP_CLOCK_HZ = 13_560_000


def timer_timeout_s(t_mode: int, t_prescaler: int, reload_h: int, reload_l: int) -> float | None:
    """The timer period the registers program (NXP MFRC522 datasheet 8.5), or None when TAuto
    is clear (the timer then never starts on its own)."""
    if not t_mode & 0x80:
        return None
    prescaler = ((t_mode & 0x0F) << 8) | t_prescaler
    reload = (reload_h << 8) | reload_l
    return (reload + 1) * (2 * prescaler + 1) / CHIP_CLOCK_HZ


SETUP = {0x2A: 0x8D, 0x2B: 0x3E, 0x2C: 0x00, 0x2D: 30, 0x15: 0x40}
"""What ``MFRC522_Init`` writes (TMode, TPrescaler, TReload H/L, TxAuto): a chip that reads
otherwise has been reset under us."""
TIMEOUT_S = timer_timeout_s(SETUP[0x2A], SETUP[0x2B], SETUP[0x2C], SETUP[0x2D]) or 0.0155
WAIT_STEPS_S = (0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008)
"""Sleeps between ``CommIrqReg`` reads while a transceive runs: a card answers within ~1 ms,
the timer fires after ~15.5 ms, so a widening schedule sees both in ~8 reads."""
KNOWN_VERSIONS = {
    0x91: "MFRC522 v1.0",
    0x92: "MFRC522 v2.0",
    0x88: "FM17522 clone",
    0x12: "counterfeit MFRC522",
    0xB2: "FM17522 clone",
}
_construct_lock = threading.Lock()


def quiet_mfrc522_logger() -> None:
    """Stop mfrc522 printing to stderr; records still reach the app's handlers."""
    lg = logging.getLogger("mfrc522Logger")
    for handler in list(lg.handlers):
        if type(handler) is logging.StreamHandler:
            lg.removeHandler(handler)
    if not any(isinstance(h, logging.NullHandler) for h in lg.handlers):
        lg.addHandler(logging.NullHandler())  # stops logging.lastResort printing to stderr
    lg.setLevel(logging.WARNING)
    lg.propagate = True


def describe_version(value: int | None) -> str:
    if value is None:
        return "unreadable: SPI error"
    if value in (0x00, 0xFF):
        return f"unreadable (0x{value:02X}): check wiring, 3.3 V and that SPI is enabled"
    return f"{KNOWN_VERSIONS.get(value, 'unknown chip')} (0x{value:02X})"


class ReaderSetupLost(RuntimeError):
    """The chip no longer holds the set-up ``MFRC522_Init`` gave it (antenna off, timer reset)."""


class _CountingSpi:
    """Wraps the library's ``spidev.SpiDev`` to count transfers, on a Pi as in the simulator:
    the technician report and the bench read the cost of a poll from here."""

    def __init__(self, spi: Any) -> None:
        self._spi = spi
        self.count = 0

    def xfer2(self, data: list[int]) -> list[int]:
        self.count += 1
        return list(self._spi.xfer2(data))

    def xfer(self, data: list[int]) -> list[int]:
        return self.xfer2(data)

    def close(self) -> None:
        self._spi.close()

    def __getattr__(self, item: str) -> Any:
        return getattr(self._spi, item)


class RC522Reader(ReaderThread):
    """:class:`hardware.ports.BadgeReader` for an RC522 on SPI."""

    def __init__(
        self,
        name: str = "desk",
        *,
        bus: int = 0,
        device: int = 0,
        rst_pin: int = 25,
        spi_speed_hz: int = 1_000_000,
        poll_interval_s: float = 0.05,
        removal_misses: int = 3,
        health_check_s: float = 1.0,
        idle_reinit_s: float = 2.0,
        recovery_interval_s: float = 1.0,
        spi_factory: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        soft_reset_s: float | None = None,
    ) -> None:
        super().__init__(name)
        self.bus, self.device, self.rst_pin = bus, device, rst_pin
        self.spi_speed_hz = spi_speed_hz
        self.poll_interval_s = poll_interval_s
        self.removal_misses = removal_misses
        self.health_check_s = health_check_s
        # ``soft_reset_s`` is the old name (a 10-minute reset): the shorter of the two wins, so
        # an old config cannot make a deaf reader wait ten minutes.
        self.idle_reinit_s = min(idle_reinit_s, soft_reset_s or idle_reinit_s)
        self.recovery_interval_s = recovery_interval_s
        self._spi_factory = spi_factory
        self._clock = clock
        self._sleep = sleep
        self._dev: Any = None
        self._spi: _CountingSpi | None = None
        self._io = threading.RLock()
        self.current_uid: str | None = None
        self.polls = 0
        self.soft_resets = 0
        self.last_empty_poll_transfers: int | None = None
        """SPI transfers the last poll that found no card cost (technician report, bench)."""
        self._misses = 0
        self._last_health = self._clock()
        self._last_init = self._clock()
        self._next_recovery = 0.0

    # -- device ------------------------------------------------------------------------------
    def _ensure_device(self) -> Any:
        if self._dev is not None:
            return self._dev
        mod = importlib.import_module("mfrc522.MFRC522")  # imports RPi.GPIO: lazy on purpose
        gpio = mod.GPIO
        mode = gpio.getmode()
        if mode not in (None, GPIO_BCM):
            raise RuntimeError(
                "RPi.GPIO is in BOARD mode; this project uses BCM numbers everywhere "
                f"(RC522 RST pin {self.rst_pin} is a BCM number)"
            )
        kwargs = {
            "bus": self.bus,
            "device": self.device,
            "spd": self.spi_speed_hz,
            "pin_mode": GPIO_BCM,
            "pin_rst": self.rst_pin,
            "debugLevel": "WARNING",
        }
        with _construct_lock:
            if self._spi_factory is not None:
                # mfrc522 calls spidev.SpiDev() inside __init__: swap the module it sees for the
                # length of the construction only, so the library code runs unchanged.
                real = getattr(mod, "spidev")  # noqa: B009 - mypy: not a declared attribute
                setattr(mod, "spidev", types.SimpleNamespace(SpiDev=self._spi_factory))  # noqa: B010
                try:
                    dev = mod.MFRC522(**kwargs)
                finally:
                    setattr(mod, "spidev", real)  # noqa: B010
            else:
                dev = mod.MFRC522(**kwargs)
        quiet_mfrc522_logger()
        self._spi = _CountingSpi(dev.spi)
        dev.spi = self._spi
        self._gpio = gpio
        self._dev = dev
        self._last_init = self._clock()
        return dev

    def _now(self) -> float:
        return self._clock()

    @property
    def transfers(self) -> int:
        """SPI transfers since the device was opened (0 before)."""
        return self._spi.count if self._spi is not None else 0

    def read_version(self) -> int | None:
        """Raw VersionReg value, or None on an SPI error."""
        try:
            with self._io:
                return int(self._ensure_device().Read_MFRC522(VERSION_REG))
        except Exception as exc:  # SPI/GPIO errors of any kind: the reader is unreadable
            log.warning("reader %s: version read failed: %s", self.name, exc)
            return None

    def version(self) -> str:
        return describe_version(self.read_version())

    # -- one transceive, bounded ------------------------------------------------------------
    def _transceive(
        self, dev: Any, data: list[int], tx_last_bits: int = 0
    ) -> tuple[int, list[int], int]:
        """What ``MFRC522_ToCard(PCD_TRANSCEIVE, data)`` does, with a wait that ends on the
        chip's own interrupts: RxIRq/IdleIRq (a card answered) or TimerIRq (nobody did).

        Raises :class:`ReaderSetupLost` if neither arrives well after the timer should have run
        out: a chip whose timer registers were reset under us never sets TimerIRq.
        """
        w, r = dev.Write_MFRC522, dev.Read_MFRC522
        w(COMM_IEN_REG, 0x77 | 0x80)
        w(COMM_IRQ_REG, 0x7F)  # Set1 = 0: clear every interrupt request bit in one write
        w(FIFO_LEVEL_REG, 0x80)  # flush the FIFO
        w(COMMAND_REG, PCD_IDLE)
        for byte in data:
            w(FIFO_DATA_REG, byte)
        w(COMMAND_REG, PCD_TRANSCEIVE)
        framing = tx_last_bits & 0x07
        w(BIT_FRAMING_REG, framing | 0x80)  # StartSend
        start = self._clock()
        deadline = start + 2 * TIMEOUT_S + 0.005
        steps = iter(WAIT_STEPS_S)
        while True:
            n = r(COMM_IRQ_REG)
            if n & 0x30 or n & 0x01:
                break
            if self._clock() >= deadline:
                w(BIT_FRAMING_REG, framing & 0x7F)
                raise ReaderSetupLost(
                    f"timer interrupt did not fire within {1000 * (deadline - start):.0f} ms"
                )
            self._sleep(next(steps, 0.002))
        w(BIT_FRAMING_REG, framing & 0x7F)
        if not n & 0x30:
            return MI_NOTAG, [], 0
        if r(ERROR_REG) & 0x1B:
            return MI_ERR, [], 0
        level = r(FIFO_LEVEL_REG)
        last_bits = r(CONTROL_REG) & 0x07
        back = [r(FIFO_DATA_REG) for _ in range(min(max(level, 1), 16))]
        bits = (level - 1) * 8 + last_bits if last_bits else level * 8
        return MI_OK, back, bits

    def poll_once(self) -> str | None:
        """One bounded poll: the UID (upper hex, 4 bytes) of a card in the field, else None.
        REQA, anticollision (cascade level 1) and SELECT, as the library's ``MFRC522_Request``
        / ``MFRC522_Anticoll`` / ``MFRC522_SelectTag`` do them."""
        with self._io:
            dev = self._ensure_device()
            before = self.transfers
            # REQA is a 7-bit short frame
            status, _, bits = self._transceive(dev, [dev.PICC_REQIDL], tx_last_bits=7)
            if status != MI_OK or bits != 0x10:
                if status == MI_NOTAG:
                    self.last_empty_poll_transfers = self.transfers - before
                return None
            status, uid, _ = self._transceive(dev, [dev.PICC_ANTICOLL, 0x20])
            if status != MI_OK or len(uid) != 5 or uid[0] ^ uid[1] ^ uid[2] ^ uid[3] != uid[4]:
                return None
            frame = [dev.PICC_SElECTTAG, 0x70, *uid]
            frame += dev.CalulateCRC(frame)
            status, _, bits = self._transceive(dev, frame)
            if status != MI_OK or bits != 0x18:
                return None
            return bytes(uid[:4]).hex().upper()

    def measure_empty_poll(self) -> int | None:
        """Transfers one poll costs when no card answers (None if a card did, or on error)."""
        self.last_empty_poll_transfers = None
        try:
            self.poll_once()
        except Exception as exc:
            log.warning("reader %s: poll failed: %s", self.name, exc)
        return self.last_empty_poll_transfers

    def library_request_transfers(self) -> int:
        """Transfers the library's own ``MFRC522_Request`` costs, for comparison (bench)."""
        with self._io:
            dev = self._ensure_device()
            before = self.transfers
            dev.MFRC522_Request(dev.PICC_REQIDL)
            return self.transfers - before

    # -- set-up ------------------------------------------------------------------------------
    def setup_problem(self) -> str | None:
        """What is wrong with the chip's set-up, or None. Reads 6 registers."""
        with self._io:
            dev = self._ensure_device()
            if dev.Read_MFRC522(TX_CONTROL_REG) & 0x03 != 0x03:
                return "antenna off (TxControlReg)"
            for reg, want in SETUP.items():
                got = dev.Read_MFRC522(reg)
                if got != want:
                    return f"register 0x{reg:02X} reads 0x{got:02X}, set-up wrote 0x{want:02X}"
        return None

    def soft_reset(self) -> None:
        """Re-run MFRC522_Init (soft reset + timer/antenna set-up)."""
        with self._io:
            self._ensure_device().MFRC522_Init()
            self._last_init = self._clock()
            self.soft_resets += 1

    def _restore(self, detail: str) -> None:
        """A lost set-up: one fault, re-init, one recovery (or stay faulted and retry)."""
        self._fault(f"lost set-up: {detail}")
        if self._try_recover():
            self._recovered()
        else:
            self._next_recovery = self._clock() + self.recovery_interval_s

    def _hard_reset(self) -> None:
        """Pulse the RST line (NRSTPD) low: a hard power-down/up of the chip."""
        gpio = getattr(self, "_gpio", None)
        if gpio is None:
            return
        try:
            gpio.output(self.rst_pin, 0)
            self._sleep(0.001)
            gpio.output(self.rst_pin, 1)
            self._sleep(0.001)
        except Exception as exc:
            log.warning("reader %s: RST pulse failed: %s", self.name, exc)

    # -- thread ------------------------------------------------------------------------------
    thread_prefix = "rc522"

    def _close(self) -> None:
        with self._io:
            if self._dev is not None:
                try:
                    self._dev.spi.close()
                    self._gpio.cleanup(self.rst_pin)  # only our pin, not GPIO.cleanup()
                finally:
                    self._dev = None
                    self._spi = None

    def _healthy(self) -> tuple[bool, str]:
        value = self.read_version()
        if value is None or value in (0x00, 0xFF):
            return False, describe_version(value)
        try:
            problem = self.setup_problem()
        except Exception as exc:
            return False, f"SPI error: {exc}"
        return problem is None, problem or ""

    def _before_thread(self) -> None:
        try:
            self._ensure_device()
        except Exception as exc:
            self._fault(f"cannot open reader: {exc}")
        self._last_health = self._clock()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = self._clock()
            self.tick()
            # A fixed period: an empty poll already slept ~15 ms waiting for the chip's timer.
            self._stop.wait(max(0.0, self.poll_interval_s - (self._clock() - started)))

    def tick(self) -> None:
        """One pass of the reader loop: recovery, health check, idle re-init, one poll.

        The thread calls it every ``poll_interval_s``; tests call it directly with a manual
        clock, so "within 5 s" is simulated time.
        """
        now = self._clock()
        if self.faulted:
            if now >= self._next_recovery:
                self._next_recovery = now + self.recovery_interval_s
                if self._try_recover():
                    self._last_health = now
                    self._misses = 0
                    self._recovered()
            return
        try:
            if now - self._last_health >= self.health_check_s:
                self._last_health = now
                value = self.read_version()
                if value is None or value in (0x00, 0xFF):
                    self._fault(describe_version(value))
                    return
                problem = self.setup_problem()
                if problem is not None:
                    self._restore(problem)
                    return
            if self.current_uid is None and now - self._last_init >= self.idle_reinit_s:
                problem = self.setup_problem()
                if problem is not None:
                    self._restore(problem)
                    return
                self.soft_reset()
            uid = self.poll_once()
            self.polls += 1
        except ReaderSetupLost as exc:
            value = self.read_version()  # a dead SPI link also never shows TimerIRq
            if value is None or value in (0x00, 0xFF):
                self._fault(describe_version(value))
            else:
                self._restore(str(exc))
            return
        except Exception as exc:
            self._fault(f"SPI error: {exc}")
            return
        if uid is not None:
            self._misses = 0
            if uid != self.current_uid:
                self.current_uid = uid
                self._emit(BadgeTapped(uid, self.name, at=self._now()))
        else:
            self._misses += 1
            # Cards on the field do not answer every REQA (ISO 14443 state machine), so a
            # single miss is not a removal.
            if self._misses >= self.removal_misses:
                self.current_uid = None

    def _try_recover(self) -> bool:
        try:
            with self._io:
                self._hard_reset()
                self.soft_reset()
        except Exception as exc:
            log.debug("reader %s: recovery attempt failed: %s", self.name, exc)
            return False
        ok, _ = self._healthy()
        return ok
