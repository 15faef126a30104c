"""Simulator: every port built at the lowest layer, plus controls for a person or a test.

* GPIO locks, doors and indicators: real gpiozero devices on ``MockFactory`` pins (``SimPin``).
  A lock pin going high releases the simulated latch and the spring pops the door open, unless
  the locker is jammed. Sensor failure makes the door pin raise on read.
* RC522: the real ``mfrc522.MFRC522`` class over :class:`~hardware.sim_rc522.FakeMFRC522Chip`
  (fake ``spidev``), with fake_rpi as ``RPi.GPIO`` installed here and only here.
* RS-485: real pyserial on a pty, with :class:`~hardware.sim_rs485.FakeRS485Bus` on the other end.
* UART badge readers: real pyserial on a pty; taps write RDM6300 frames.

Controls: ``tap``, ``remove_card``, ``open_door``, ``close_door``, ``jam``, ``force_open``,
``make_reader_deaf``, ``make_reader_rf_deaf``, ``clear_reader_antenna``, ``recover_reader``,
``board_silent`` (the boards go deaf: no pulse, no answer), ``inject_garbage``, ``sensor_fail``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import tty
from collections.abc import Callable
from pathlib import Path

from gpiozero.exc import PinError
from gpiozero.pins.mock import MockFactory, MockPin

from hardware.bundle import (
    GpioBankSpec,
    HardwareBundle,
    HardwareSpec,
    RC522Spec,
    RS485BankSpec,
    assemble,
)
from hardware.camera import NullCamera
from hardware.gpio_locks import GpioLockBank, GpioLockSpec
from hardware.indicators import GpioIndicators, NullIndicators
from hardware.ports import BadgeReader, Camera, Indicators, LockBank
from hardware.rc522 import RC522Reader
from hardware.rs485 import RS485Bus, RS485LockBank
from hardware.serial_reader import SerialBadgeReader, encode_frame
from hardware.sim_rc522 import DeafMode, FakeMFRC522Chip, install_fake_rpi
from hardware.sim_rs485 import FakeBoard, FakeRS485Bus


class SimPin(MockPin):
    """A MockPin that can fail on read and reports output changes to the simulated world."""

    def __init__(self, factory: MockFactory, info: object) -> None:
        self.failed = False
        self.on_output: Callable[[bool], None] | None = None
        super().__init__(factory, info)

    def _get_state(self) -> bool:
        if self.failed:
            raise PinError(f"simulated sensor failure on {self.info.name}")
        return super()._get_state()

    def _change_state(self, value: bool) -> bool:
        changed = super()._change_state(value)
        if changed and self._function == "output" and self.on_output is not None:
            self.on_output(bool(value))
        return changed


class SimCamera:
    """Writes a tiny placeholder image (PPM) so the capture path can be exercised."""

    def describe(self) -> str:
        return "simulated tray camera"

    def capture_still(self, path: Path) -> Path | None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"P6\n2 2\n255\n" + bytes(12))
        return path


class _UartPeer:
    """The reader end of a pty for a simulated 125 kHz UART reader."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class Simulator:
    """Builds a :class:`HardwareBundle` of fakes from a :class:`HardwareSpec` and drives it."""

    def __init__(self, spec: HardwareSpec) -> None:
        self.spec = spec
        self.pin_factory = MockFactory(pin_class=SimPin)
        self.chips: dict[str, FakeMFRC522Chip] = {}
        self.uarts: dict[str, _UartPeer] = {}
        self.buses: dict[str, FakeRS485Bus] = {}
        self.jammed: set[tuple[str, int]] = set()
        self._gpio_specs: dict[str, dict[int, GpioLockSpec]] = {}
        self._banks: dict[str, LockBank] = {}
        self._lock = threading.RLock()
        readers: list[BadgeReader] = []
        banks: list[LockBank] = []
        for r in spec.readers:
            if isinstance(r, RC522Spec):
                install_fake_rpi()
                chip = FakeMFRC522Chip()
                self.chips[r.name] = chip
                readers.append(
                    RC522Reader(
                        r.name,
                        bus=r.spi_bus,
                        device=r.spi_device,
                        rst_pin=r.rst_pin,
                        poll_interval_s=r.poll_interval_s,
                        soft_reset_s=r.soft_reset_minutes * 60,
                        health_check_s=r.health_check_s,
                        spi_factory=chip.spi_factory,
                    )
                )
            else:
                peer = _UartPeer()
                self.uarts[r.name] = peer
                readers.append(SerialBadgeReader(r.name, peer.port, r.baudrate))
        for b in spec.banks:
            if isinstance(b, GpioBankSpec):
                bank: LockBank = GpioLockBank(
                    b.name, b.locks, spec.lock_timings, pin_factory=self.pin_factory
                )
                self._gpio_specs[b.name] = {s.number: s for s in b.locks}
                for s in b.locks:
                    self._wire_gpio_locker(b.name, s)
            else:
                assert isinstance(b, RS485BankSpec)
                fake = FakeRS485Bus(
                    [
                        FakeBoard(
                            bs.address,
                            bs.locks,
                            door_closed_bit=bs.door_closed_bit,
                            occupied_bit=1 if bs.occupied_bit is None else bs.occupied_bit,
                        )
                        for bs in b.boards
                    ]
                )
                self.buses[b.name] = fake
                bus = RS485Bus(fake.port, b.baudrate, spec.bus_timings)
                bank = RS485LockBank(b.name, bus, b.boards, spec.lock_timings)
            banks.append(bank)
            self._banks[b.name] = bank
        ind = spec.indicators
        indicators: Indicators = (
            GpioIndicators(
                ind.green_pin,
                ind.red_pin,
                ind.buzzer_pin,
                buzzer_active_high=ind.buzzer_active_high,
                pin_factory=self.pin_factory,
            )
            if any(p is not None for p in (ind.green_pin, ind.red_pin, ind.buzzer_pin))
            else NullIndicators()
        )
        camera: Camera = SimCamera() if spec.camera == "picamera2" else NullCamera()
        self.bundle: HardwareBundle = assemble(spec, readers, banks, camera, indicators, self)

    # -- GPIO world ---------------------------------------------------------------------------
    def pin(self, pin_id: int | str) -> SimPin:
        pin = self.pin_factory.pin(pin_id)
        assert isinstance(pin, SimPin)
        return pin

    def _drive(self, pin_id: int | str | None, high: bool) -> None:
        if pin_id is None:
            return
        pin = self.pin(pin_id)
        if high:
            pin.drive_high()
        else:
            pin.drive_low()

    def _set_gpio_door(self, bank: str, spec: GpioLockSpec, is_open: bool) -> None:
        closed_level = spec.door_closed_high
        self._drive(spec.door_pin, (not closed_level) if is_open else closed_level)

    def _set_gpio_latch(self, spec: GpioLockSpec, locked: bool) -> None:
        if spec.latch_pin is not None:
            level = spec.latch_locked_high
            self._drive(spec.latch_pin, level if locked else not level)

    def _wire_gpio_locker(self, bank: str, spec: GpioLockSpec) -> None:
        self._set_gpio_door(bank, spec, is_open=False)
        self._set_gpio_latch(spec, locked=True)
        if spec.occupancy_pin is not None:
            self._drive(spec.occupancy_pin, not spec.occupied_high)

        def on_output(value: bool) -> None:
            energised = value == spec.lock_active_high
            if (bank, spec.number) in self.jammed:
                return
            self._set_gpio_latch(spec, locked=not energised)
            if energised:
                self._set_gpio_door(bank, spec, is_open=True)  # spring-loaded door pops open

        self.pin(spec.lock_pin).on_output = on_output

    def _rs485(self, bank: str, number: int) -> tuple[FakeRS485Bus, FakeBoard, int]:
        real = self._banks[bank]
        assert isinstance(real, RS485LockBank)
        board_spec, idx = real.locate(number)
        fake = self.buses[bank]
        return fake, fake.board(board_spec.address), idx

    def _reader_name(self, reader: str | None) -> str:
        if reader is not None:
            return reader
        if not self.spec.readers:
            raise KeyError("no readers configured")
        return self.spec.readers[0].name

    # -- controls -----------------------------------------------------------------------------
    def tap(self, uid: str, reader: str | None = None) -> None:
        """Present a card. RC522: 8 hex chars (4-byte UID); UART reader: 10 hex chars."""
        name = self._reader_name(reader)
        if name in self.chips:
            self.chips[name].place_card(uid)
        else:
            frame = encode_frame(uid)
            self.uarts[name].write(frame * 3)  # UART readers repeat while the card is held

    def remove_card(self, reader: str | None = None) -> None:
        name = self._reader_name(reader)
        if name in self.chips:
            self.chips[name].remove_card()

    def open_door(self, bank: str, number: int) -> None:
        """Physically open a door (e.g. someone pulls an unlatched door)."""
        self._move_door(bank, number, is_open=True)

    def close_door(self, bank: str, number: int) -> None:
        self._move_door(bank, number, is_open=False)

    def force_open(self, bank: str, number: int) -> None:
        """Prise a door open with no unlock command: the monitor should raise ForcedOpen."""
        self._move_door(bank, number, is_open=True)

    def _move_door(self, bank: str, number: int, is_open: bool) -> None:
        with self._lock:
            if bank in self._gpio_specs:
                self._set_gpio_door(bank, self._gpio_specs[bank][number], is_open)
            else:
                fake, board, idx = self._rs485(bank, number)
                with fake.lock:
                    board.door_open[idx] = is_open

    def set_occupied(self, bank: str, number: int, occupied: bool) -> None:
        with self._lock:
            if bank in self._gpio_specs:
                spec = self._gpio_specs[bank][number]
                if spec.occupancy_pin is not None:
                    self._drive(spec.occupancy_pin, spec.occupied_high == occupied)
            else:
                fake, board, idx = self._rs485(bank, number)
                with fake.lock:
                    board.occupied[idx] = occupied

    def jam(self, bank: str, number: int, jammed: bool = True) -> None:
        """The latch will not release when pulsed."""
        with self._lock:
            if bank in self._gpio_specs:
                (self.jammed.add if jammed else self.jammed.discard)((bank, number))
            else:
                fake, board, idx = self._rs485(bank, number)
                with fake.lock:
                    (board.jammed.add if jammed else board.jammed.discard)(idx)

    def make_reader_deaf(self, reader: str | None = None, mode: DeafMode = DeafMode.ZEROS) -> None:
        self.chips[self._reader_name(reader)].make_deaf(mode)

    def make_reader_rf_deaf(self, reader: str | None = None, deaf: bool = True) -> None:
        """The reader still answers on SPI but hears no cards until it is re-initialised."""
        self.chips[self._reader_name(reader)].make_rf_deaf(deaf)

    def clear_reader_antenna(self, reader: str | None = None) -> None:
        """The reader loses its antenna set-up (a ReaderFault, then a ReaderRecovered)."""
        self.chips[self._reader_name(reader)].clear_antenna()

    def recover_reader(self, reader: str | None = None) -> None:
        self.chips[self._reader_name(reader)].recover()

    def board_silent(self, silent: bool = True, bank: str | None = None) -> None:
        """Every board (of one bank, or all) stops answering / answers again."""
        for name, fake in self.buses.items():
            if bank is None or bank == name:
                with fake.lock:
                    for board in fake.boards.values():
                        board.deaf = silent

    def inject_garbage(self, data: bytes, bank: str | None = None) -> None:
        """Noise on an RS-485 line, arriving just ahead of the next reply."""
        for name, fake in self.buses.items():
            if bank is None or bank == name:
                fake.inject_garbage(data)

    def sensor_fail(self, bank: str, number: int, failed: bool = True) -> None:
        """GPIO: the door pin raises on read. RS-485: the board's replies become corrupt, so
        every door on that board is UNKNOWN (a board cannot report one broken reed)."""
        with self._lock:
            if bank in self._gpio_specs:
                self.pin(self._gpio_specs[bank][number].door_pin).failed = failed
            else:
                fake, board, _ = self._rs485(bank, number)
                with fake.lock:
                    board.corrupt = failed

    def close(self) -> None:
        for fake in self.buses.values():
            fake.close()
        for peer in self.uarts.values():
            peer.close()
        self.pin_factory.reset()
