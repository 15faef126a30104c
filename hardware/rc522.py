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
* Readers go deaf after hours (mxgxw/MFRC522-python#21, pimylifeup/MFRC522-python#18,
  miguelbalboa/rfid#540). We re-run ``MFRC522_Init`` every ``soft_reset_s``, check the version
  register every ``health_check_s`` (0x00/0xFF or SPI errors mean deaf), and then emit
  ``ReaderFault``, pulse RST, re-init, and emit ``ReaderRecovered`` when it answers again.
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
GPIO_BCM = 11
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
        soft_reset_s: float = 600.0,
        recovery_interval_s: float = 1.0,
        spi_factory: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name)
        self.bus, self.device, self.rst_pin = bus, device, rst_pin
        self.spi_speed_hz = spi_speed_hz
        self.poll_interval_s = poll_interval_s
        self.removal_misses = removal_misses
        self.health_check_s = health_check_s
        self.soft_reset_s = soft_reset_s
        self.recovery_interval_s = recovery_interval_s
        self._spi_factory = spi_factory
        self._clock = clock
        self._dev: Any = None
        self._io = threading.RLock()
        self.current_uid: str | None = None
        self.polls = 0
        self.soft_resets = 0

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
        with _construct_lock:
            if self._spi_factory is not None:
                # mfrc522 calls spidev.SpiDev() inside __init__: swap the module it sees for the
                # length of the construction only, so the library code runs unchanged.
                real = mod.spidev
                mod.spidev = types.SimpleNamespace(SpiDev=self._spi_factory)
                try:
                    dev = mod.MFRC522(
                        bus=self.bus,
                        device=self.device,
                        spd=self.spi_speed_hz,
                        pin_mode=GPIO_BCM,
                        pin_rst=self.rst_pin,
                        debugLevel="WARNING",
                    )
                finally:
                    mod.spidev = real
            else:
                dev = mod.MFRC522(
                    bus=self.bus,
                    device=self.device,
                    spd=self.spi_speed_hz,
                    pin_mode=GPIO_BCM,
                    pin_rst=self.rst_pin,
                    debugLevel="WARNING",
                )
        quiet_mfrc522_logger()
        self._gpio = gpio
        self._dev = dev
        self._last_init = self._clock()
        return dev

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

    def poll_once(self) -> str | None:
        """One bounded poll: the UID (upper hex, 4 bytes) of a card in the field, else None."""
        with self._io:
            dev = self._ensure_device()
            status, _ = dev.MFRC522_Request(dev.PICC_REQIDL)
            if status != dev.MI_OK:
                return None
            status, uid = dev.MFRC522_Anticoll()
            if status != dev.MI_OK or len(uid) != 5:
                return None
            if not dev.MFRC522_SelectTag(uid):
                return None
            return bytes(uid[:4]).hex().upper()

    def soft_reset(self) -> None:
        """Re-run MFRC522_Init (soft reset + timer/antenna set-up)."""
        with self._io:
            self._ensure_device().MFRC522_Init()
            self._last_init = self._clock()
            self.soft_resets += 1

    def _hard_reset(self) -> None:
        """Pulse the RST line (NRSTPD) low: a hard power-down/up of the chip."""
        gpio = getattr(self, "_gpio", None)
        if gpio is None:
            return
        try:
            gpio.output(self.rst_pin, 0)
            time.sleep(0.001)
            gpio.output(self.rst_pin, 1)
            time.sleep(0.001)
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

    def _healthy(self) -> tuple[bool, str]:
        value = self.read_version()
        if value is None or value in (0x00, 0xFF):
            return False, describe_version(value)
        return True, ""

    def _run(self) -> None:
        last_health = self._clock()
        next_recovery = 0.0
        misses = 0
        try:
            self._ensure_device()
        except Exception as exc:
            self._fault(f"cannot open reader: {exc}")
        while not self._stop.is_set():
            now = self._clock()
            if self.faulted:
                if now >= next_recovery:
                    next_recovery = now + self.recovery_interval_s
                    if self._try_recover():
                        last_health = now
                        misses = 0
                        self._recovered()
                self._stop.wait(self.poll_interval_s)
                continue
            if now - last_health >= self.health_check_s:
                last_health = now
                ok, detail = self._healthy()
                if not ok:
                    self._fault(detail)
                    continue
            try:
                if now - self._last_init >= self.soft_reset_s:
                    self.soft_reset()
                uid = self.poll_once()
                self.polls += 1
            except Exception as exc:
                self._fault(f"SPI error: {exc}")
                continue
            if uid is not None:
                misses = 0
                if uid != self.current_uid:
                    self.current_uid = uid
                    self._emit(BadgeTapped(uid, self.name))
            else:
                misses += 1
                # Cards on the field do not answer every REQA (ISO 14443 state machine), so a
                # single miss is not a removal.
                if misses >= self.removal_misses:
                    self.current_uid = None
            self._stop.wait(self.poll_interval_s)

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
