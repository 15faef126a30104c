"""The station: custody use-cases joined to real (or simulated) hardware.

Order of work for every door (DESIGN.md, Physical truth):
1. the use-case commits ``depositing``/``releasing`` first;
2. then the lock is pulsed and the outcome comes from the door sensor, not the pulse;
3. the door closing confirms the step (``held`` / ``released``); a door that did not open
   rolls the step back (``aborted`` / back to ``held``) and marks the locker as a fault.
Nothing opens by itself at start-up: all outputs are driven off and holdings left half-way
by a power cut are listed for staff to resolve (:meth:`Station.reconcile`).

Every method here may block for seconds (door waits, RS-485 retries): UIs call them from
worker threads. Hardware events arrive on hardware threads; they are queued, written to the
ledger on the station's own thread, and only then passed to the listener.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from db.models import LockerState
from hardware.bundle import HardwareBundle
from hardware.ports import (
    DoorState,
    ForcedOpen,
    LeftOpen,
    LockBank,
    ReaderFault,
    ReaderRecovered,
    SensorFault,
    UnlockOutcome,
)
from hardware.printer import PrinterNotReady, ReceiptPrinter
from kiosk.auth import Identity
from kiosk.context import KioskContext
from kiosk.crashpoints import crashpoint
from kiosk.custody import HardwareLog
from kiosk.hardware_lock import HardwareLock
from kiosk.hw_checks import Check, SensorReading, reader_checks, sensor_readings, test_pulse
from kiosk.photos import take_tray_photo
from kiosk.receipts import Slip, print_slip
from kiosk.usecases.base import CustodyError
from kiosk.views import HoldingView
from wire.vocabulary import HALF_WAY_STATES, EventType, HoldingKind, HoldingState

log = logging.getLogger(__name__)

Listener = Callable[[object], None]

#: Hardware events that are also ledger events (and so reach the central log).
_LEDGER_TYPES: dict[type, str] = {
    ForcedOpen: EventType.ALARM_FORCED_OPEN,
    LeftOpen: EventType.ALARM_LEFT_OPEN,
    SensorFault: EventType.FAULT_DOOR_SENSOR,
    ReaderFault: EventType.FAULT_READER,
    ReaderRecovered: EventType.FAULT_READER_RECOVERED,
}


@dataclass(frozen=True)
class DoorResult:
    """How a door step ended, in words for the person at the hatch."""

    ok: bool
    outcome: str  # an UnlockOutcome value, or "not_closed"
    message: str
    holding: HoldingView


@dataclass(frozen=True)
class BulkResult:
    """How an exam cabinet's release ended."""

    ok: bool
    outcome: str
    message: str
    holdings: list[HoldingView]


@dataclass(frozen=True)
class ReconcileItem:
    """A holding a crash left half-way, with what the sensors say now."""

    holding: HoldingView
    door: DoorState
    occupied: bool | None
    advice: str


class Station:
    """One kiosk: ledger + lock banks + readers + indicators."""

    def __init__(
        self,
        ctx: KioskContext,
        hardware: HardwareBundle,
        *,
        door_close_timeout: float = 90.0,
        poll_interval: float = 0.05,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self.custody = ctx.custody
        self.hardware = hardware
        # Unlocks go through the monitor-guarded banks, so only uncommanded openings alarm.
        self.banks: dict[str, LockBank] = {bank.name: bank for bank in hardware.lock_banks}
        self.log = HardwareLog(ctx.custody)
        self.door_close_timeout = door_close_timeout
        self.poll_interval = poll_interval
        #: Measures door timeouts; tests inject a clock they move by hand, so "the door was
        #: not closed in time" happens when the test says so, never by a slow machine.
        self.monotonic = monotonic
        self._listeners: list[Listener] = []
        self._events: queue.Queue[object] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        #: Set by :func:`kiosk.runtime.open_station`; released by ``close_station``.
        self.hardware_lock: HardwareLock | None = None
        #: The receipt printer (``[printer]``; simulated with ``--simulate``), or None.
        self.printer: ReceiptPrinter | None = None

    # ----------------------------------------------------------------- lifecycle
    def subscribe(self, listener: Listener) -> None:
        """``listener`` gets every hardware event after it is in the ledger (any thread)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def feed(self, event: object) -> None:
        """Queue an event as if a hardware thread sent it (the headless control, tests)."""
        self._events.put(event)

    def start(self) -> list[ReconcileItem]:
        """Drive all locks off, start readers and the door monitor, return what needs a human."""
        for bank in self.banks.values():
            bank.all_off()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._pump, name="station-events", daemon=True)
        self._thread.start()
        self.hardware.start(self._events.put)
        # A baseline reading of every door before start() returns: a door prised open from
        # now on is a forced door, whatever the monitor thread's timing.
        self.hardware.monitor.poll()
        self.log.record(EventType.STATION_STARTED, banks=sorted(self.banks))
        return self.reconcile()

    def stop(self) -> None:
        """Stop readers, monitor and the event thread; pins stay claimed (see close_station)."""
        for reader in self.hardware.readers:
            reader.stop()
        self.hardware.monitor.stop()
        for bank in self.banks.values():
            bank.all_off()
        self._stopping.set()
        self._events.put(None)
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _pump(self) -> None:
        while not self._stopping.is_set():
            event = self._events.get()
            if event is None:
                continue
            ledger_type = _LEDGER_TYPES.get(type(event))
            if ledger_type is not None:
                try:
                    payload = {k: v for k, v in vars(event).items() if k != "at"}
                    self.log.record(ledger_type, **payload)
                except Exception:  # the alarm must still reach the screen
                    log.exception("could not write %s to the ledger", ledger_type)
                if isinstance(event, ForcedOpen | LeftOpen):
                    self.hardware.indicators.alarm(True)
                if isinstance(event, ForcedOpen):
                    try:  # a phone inside is flagged for the next sign-in to check (issue 14)
                        self.custody.flag_forced_open(event.bank, event.number)
                    except Exception:
                        log.exception("could not flag the holdings in a forced-open locker")
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:
                    log.exception("station listener failed")

    # ----------------------------------------------------------------- doors
    def _bank(self, holding: HoldingView) -> tuple[LockBank, int]:
        if holding.locker_bank is None or holding.locker_number is None:
            raise ValueError(f"holding {holding.id} has no locker")
        return self.banks[holding.locker_bank], holding.locker_number

    def door_states(self) -> dict[tuple[str, int], DoorState]:
        states: dict[tuple[str, int], DoorState] = {}
        for name, bank in self.banks.items():
            for number, state in bank.door_states().items():
                states[(name, number)] = state
        return states

    def _wait_closed(self, bank: LockBank, number: int, timeout: float, since: float) -> bool:
        """Until the sensor reads closed (True) or ``timeout`` on :attr:`monotonic` (False).

        The sensor is re-read every ``poll_interval``; that interval only bounds how soon a
        closing is seen, the outcome depends on the injected clock alone. Stopping the
        station ends the wait as "not closed" (the step is left for staff).
        """
        deadline = since + timeout  # counted from the pulse, not from when this thread ran
        while not self._stopping.is_set():
            if bank.door_state(number) is DoorState.CLOSED:
                return True
            if self.monotonic() >= deadline:
                return False
            self._stopping.wait(self.poll_interval)
        return False

    def deposit(
        self, actor: Identity | None, holding: HoldingView, *, timeout: float | None = None
    ) -> DoorResult:
        """Open the reserved locker, wait for the door to close on the phone, confirm it."""
        bank, number = self._bank(holding)
        pulsed = self.monotonic()
        outcome = bank.unlock(number)
        crashpoint("door.pulsed")
        if outcome in (UnlockOutcome.DID_NOT_OPEN, UnlockOutcome.JAMMED):
            # One commit: the fault mark cannot be lost to a crash after the abort.
            fault = None if holding.kind is HoldingKind.EXAM_DEPOSIT else outcome.value
            self.custody.abort_deposit(
                actor, holding.id, f"locker {outcome.value}", locker_fault=fault
            )
            return DoorResult(
                False,
                outcome.value,
                f"Locker {holding.locker} {outcome.value.replace('_', ' ')}. Nothing was "
                "recorded as deposited; the locker is marked as a fault. Choose another.",
                self.custody.holding(None, holding.id),
            )
        if not self._wait_closed(bank, number, timeout or self.door_close_timeout, pulsed):
            return DoorResult(
                False,
                "not_closed",
                f"Locker {holding.locker} is still open. Put the phone in and close the door; "
                "the deposit is confirmed when the door closes.",
                holding,
            )
        done = self.custody.confirm_deposit(actor, holding.id)
        return DoorResult(True, outcome.value, f"Locked in {holding.locker}.", done)

    def release(
        self, actor: Identity | None, holding: HoldingView, *, timeout: float | None = None
    ) -> DoorResult:
        """Open the locker of a ``releasing`` holding; the door closing completes the release."""
        bank, number = self._bank(holding)
        pulsed = self.monotonic()
        outcome = bank.unlock(number)
        crashpoint("door.pulsed")
        if outcome in (UnlockOutcome.DID_NOT_OPEN, UnlockOutcome.JAMMED):
            back = self.custody.cancel_release(actor, holding.id, f"locker {outcome.value}")
            return DoorResult(
                False,
                outcome.value,
                f"Locker {holding.locker} {outcome.value.replace('_', ' ')}: the phone is "
                "still held. Call the technician; do not hand over anything else.",
                back,
            )
        if not self._wait_closed(bank, number, timeout or self.door_close_timeout, pulsed):
            return DoorResult(
                False,
                "not_closed",
                f"Locker {holding.locker} is open. Hand the phone over and close the door.",
                holding,
            )
        done = self.custody.complete_release(actor, holding.id)
        return DoorResult(True, outcome.value, f"Released from {holding.locker}.", done)

    def release_exam_session(
        self, actor: Identity, session_id: int, *, timeout: float | None = None
    ) -> BulkResult:
        """Hand back every pouch of an ended session: commit, open the cabinet, confirm.

        The candidates take their pouches while the door is open; the door closing records
        them as released. A cabinet that does not open leaves every pouch held.
        """
        pouches = self.custody.begin_exam_session_release(actor, session_id)
        if not pouches:
            return BulkResult(True, "nothing_held", "No pouches are held for this session.", [])
        bank, number = self._bank(pouches[0])
        pulsed = self.monotonic()
        outcome = bank.unlock(number)
        crashpoint("door.pulsed")
        label = pouches[0].locker
        if outcome in (UnlockOutcome.DID_NOT_OPEN, UnlockOutcome.JAMMED):
            back = [
                self.custody.cancel_release(actor, h.id, f"cabinet {outcome.value}")
                for h in pouches
            ]
            return BulkResult(
                False,
                outcome.value,
                f"Cabinet {label} {outcome.value.replace('_', ' ')}: every pouch is still "
                "held. Call the technician.",
                back,
            )
        if not self._wait_closed(bank, number, timeout or self.door_close_timeout, pulsed):
            return BulkResult(
                False,
                "not_closed",
                f"Cabinet {label} is open: hand out the pouches, then close the door.",
                pouches,
            )
        done = self.custody.complete_exam_session_release(actor, session_id)
        return BulkResult(True, outcome.value, f"{len(done)} pouch(es) handed back.", done)

    # ----------------------------------------------------------------- camera
    def capture_tray_photo(self, actor: Identity | None, holding: HoldingView) -> str | None:
        """A still of the deposit tray, recorded against the holding; None with no camera.

        The photo stays on the Pi (``<data_dir>/photos``) and is purged on the profile's
        ``retention.photo_days``; :func:`kiosk.photos.take_tray_photo` writes it so that a
        crash leaves a recorded photo or one the next purge removes.
        """
        folder = self.ctx.config.station.data_dir / "photos"
        path = take_tray_photo(self.custody, self.hardware.camera, folder, actor, holding.id)
        return None if path is None else str(path)

    # ----------------------------------------------------------------- technician
    def print_receipt(self, actor: Identity, holding_id: int) -> Slip:
        """Print the receipt of ``holding_id`` on the receipt printer; returns the slip.

        The slip comes from the ``receipt_slip`` use-case (its permission check, and the
        safeguarding rule that withholds collectors and times, :mod:`kiosk.receipts`), so what
        is printed is exactly what the screen shows. Blocks on the printer: call from a worker.
        """
        slip = self.custody.receipt_slip(actor, holding_id)
        if self.printer is None:
            raise CustodyError(
                "No receipt printer is configured: add a [printer] table to kiosk.toml "
                "(docs/kiosk.example.toml). Show the receipt on screen instead."
            )
        try:
            device = self.printer.connect()
        except PrinterNotReady as exc:
            raise CustodyError(f"Not printed: {exc}. Check it is on and has paper.") from exc
        try:
            print_slip(device, slip)
        except Exception as exc:
            raise CustodyError(
                f"Not printed: {self.printer.describe()} failed ({exc}). Check it is on and "
                "has paper."
            ) from exc
        finally:
            self.printer.finish(device)
        return slip

    def reader_checks(self) -> list[Check]:
        """Every reader's firmware/health: the same check ``kiosk hw test`` runs."""
        return reader_checks(self.hardware.readers)

    def sensor_readings(self) -> list[SensorReading]:
        """Every door and occupancy sensor: the same readings ``kiosk hw test`` starts from."""
        return sensor_readings(self.banks)

    def test_unlock(self, actor: Identity, bank: str, number: int) -> UnlockOutcome:
        """Pulse an empty locker for a hardware test (technicians only), with an event."""
        return self.test_pulse(actor, bank, number)[0]

    def test_pulse(self, actor: Identity, bank: str, number: int) -> tuple[UnlockOutcome, str]:
        """The one way a test pulse is sent (technician screen and ``kiosk hw test``).

        Checked, reserved and recorded *before* the pulse in one transaction (technician
        permission, nothing held, not out of service: :meth:`HardwareLog.begin_test_unlock`
        raises ``CustodyError`` otherwise, and nothing is pulsed); the locker stays
        ``testing`` (no deposit can take it) until the outcome is recorded after the pulse,
        both naming the technician.
        """
        previous = self.log.begin_test_unlock(actor, bank, number)  # reserves the locker
        outcome_word = "error"
        try:
            outcome, detail = test_pulse(self.banks[bank], number)
            outcome_word = outcome.value
        finally:
            # Always hand the locker back (and record how the pulse ended), even if the
            # driver raised, so a failed test does not leave it reserved.
            self.log.end_test_unlock(actor, bank, number, previous, outcome_word)
        return outcome, detail

    def set_locker_service(self, actor: Identity, bank: str, number: int, *, fault: bool) -> None:
        """Mark a locker as a fault (out of use) or back in service after a repair."""
        state = LockerState.FAULT if fault else LockerState.FREE
        why = "marked by technician" if fault else "back in service after a test"
        self.log.set_locker_state(actor, bank, number, state, why)

    # ----------------------------------------------------------------- start-up
    def reconcile(self) -> list[ReconcileItem]:
        """Holdings a crash left ``depositing``/``releasing``, with sensor readings and advice.

        Nothing is changed and nothing opens: staff decide (confirm or roll back) on screen.
        """
        items = []
        for h in self.custody.holdings(None, open_only=True):
            if h.state not in HALF_WAY_STATES or h.locker_bank is None:
                continue
            bank = self.banks.get(h.locker_bank)
            if bank is None:
                continue
            door = bank.door_state(h.locker_number or 0)
            occupied = bank.occupied(h.locker_number or 0)
            if h.state is HoldingState.DEPOSITING:
                advice = (
                    "Check the locker: if the phone is inside, confirm the deposit; "
                    "otherwise cancel it."
                )
            else:
                advice = (
                    "Check the locker: if it is empty the phone was handed over, complete "
                    "the release; if the phone is inside, put the holding back to held."
                )
            items.append(ReconcileItem(h, door, occupied, advice))
        return items
