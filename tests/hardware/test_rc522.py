"""RC522: the real mfrc522.MFRC522 code against the emulated chip (fake spidev, fake_rpi)."""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterator

import pytest
from hw_helpers import wait_for

from hardware.ports import BadgeTapped, ReaderFault, ReaderRecovered
from hardware.rc522 import TIMEOUT_S, RC522Reader
from hardware.sim_rc522 import DeafMode, FakeMFRC522Chip, ManualClock, install_fake_rpi

POLL_S = 0.05


@pytest.fixture
def rig() -> Iterator[tuple[FakeMFRC522Chip, RC522Reader, queue.Queue[object]]]:
    install_fake_rpi()
    chip = FakeMFRC522Chip()
    reader = RC522Reader(
        "desk",
        poll_interval_s=0.005,
        health_check_s=0.03,
        recovery_interval_s=0.02,
        spi_factory=chip.spi_factory,
    )
    events: queue.Queue[object] = queue.Queue()
    reader.start(events.put)
    yield chip, reader, events
    reader.stop()


def drain(q: queue.Queue[object]) -> list[object]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def test_version_register_read_through_library(rig) -> None:  # type: ignore[no-untyped-def]
    _, reader, _ = rig
    assert reader.version() == "MFRC522 v2.0 (0x92)"


def test_tap_held_card_and_retap(rig) -> None:  # type: ignore[no-untyped-def]
    chip, reader, events = rig
    chip.place_card("DEADBEEF")
    first = events.get(timeout=2)
    assert isinstance(first, BadgeTapped) and first.uid == "DEADBEEF" and first.reader == "desk"
    polls = reader.polls
    assert wait_for(lambda: reader.polls > polls + 40)  # card held for many polls
    assert drain(events) == []  # ... and still only one event
    chip.remove_card()
    assert wait_for(lambda: reader.current_uid is None)
    chip.place_card("DEADBEEF")
    again = events.get(timeout=2)
    assert isinstance(again, BadgeTapped) and again.uid == "DEADBEEF"


def test_deaf_reader_fault_then_recovered(rig) -> None:  # type: ignore[no-untyped-def]
    chip, _, events = rig
    chip.make_deaf(DeafMode.ZEROS)
    fault = events.get(timeout=2)
    assert isinstance(fault, ReaderFault) and "0x00" in fault.detail
    chip.recover()  # comes back with antenna off: only a re-init makes it hear cards
    assert isinstance(events.get(timeout=2), ReaderRecovered)
    assert chip.antenna_on
    chip.place_card("01020304")
    tap = events.get(timeout=2)
    assert isinstance(tap, BadgeTapped) and tap.uid == "01020304"


def test_spi_errors_are_a_fault_not_a_crash(rig) -> None:  # type: ignore[no-untyped-def]
    chip, reader, events = rig
    chip.make_deaf(DeafMode.OSERROR)
    assert isinstance(events.get(timeout=2), ReaderFault)
    assert reader.version().startswith("unreadable")
    chip.recover()
    assert isinstance(events.get(timeout=2), ReaderRecovered)


def test_periodic_soft_reset() -> None:
    install_fake_rpi()
    chip = FakeMFRC522Chip()
    reader = RC522Reader(
        "r", poll_interval_s=0.005, soft_reset_s=0.05, spi_factory=chip.spi_factory
    )
    reader.start(lambda e: None)
    try:
        assert wait_for(lambda: reader.soft_resets >= 2)
        assert chip.resets >= 3  # construction + periodic
    finally:
        reader.stop()


def test_library_stderr_handler_removed(rig) -> None:  # type: ignore[no-untyped-def]
    lg = logging.getLogger("mfrc522Logger")
    assert not [h for h in lg.handlers if type(h) is logging.StreamHandler]
    assert any(isinstance(h, logging.NullHandler) for h in lg.handlers)


def test_selecttag_checks_crc_on_the_chip() -> None:
    """The emulated card refuses a SELECT with a bad CRC, as a real one does."""
    chip = FakeMFRC522Chip()
    chip.place_card("DEADBEEF")
    card = chip.card
    assert card is not None
    assert card.respond([0x26], 7) == [0x04, 0x00]
    assert card.respond([0x93, 0x20], 0) == [0xDE, 0xAD, 0xBE, 0xEF, 0x22]
    assert card.respond([0x93, 0x70, 0xDE, 0xAD, 0xBE, 0xEF, 0x22, 0, 0], 0) is None


# -- simulated time: the reader loop driven by tick() on a manual clock -------------------------


@pytest.fixture
def manual() -> tuple[ManualClock, FakeMFRC522Chip, RC522Reader, list[object]]:
    install_fake_rpi()
    clock = ManualClock()
    chip = FakeMFRC522Chip(clock=clock)
    reader = RC522Reader(
        "desk",
        poll_interval_s=POLL_S,
        spi_factory=chip.spi_factory,
        clock=clock,
        sleep=clock.sleep,
    )
    events: list[object] = []
    reader.bind(events.append)
    return clock, chip, reader, events


def run_for(clock: ManualClock, reader: RC522Reader, seconds: float) -> None:
    end = clock() + seconds
    while clock() < end:
        reader.tick()
        clock.advance(POLL_S)


def kinds(events: list[object]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_empty_poll_ends_on_the_chips_timer(manual) -> None:  # type: ignore[no-untyped-def]
    clock, chip, reader, _ = manual
    reader.read_version()  # opens the device (construction runs MFRC522_Init)
    before, t0 = chip.transfers, clock()
    assert reader.poll_once() is None
    cost = chip.transfers - before
    assert cost == reader.last_empty_poll_transfers
    assert cost <= 40
    # it waited for the timer (sleeping), not less, not much more
    assert TIMEOUT_S <= clock() - t0 < 2 * TIMEOUT_S


def test_emulated_chip_shows_the_librarys_2000_read_loop(manual) -> None:  # type: ignore[no-untyped-def]
    """The regression the adapter avoids stays visible: the library's own request, empty field,
    runs its full 2,000 CommIrqReg reads although the timer fired long before."""
    _, _, reader, _ = manual
    assert reader.library_request_transfers() >= 2000
    assert reader.measure_empty_poll() <= 40


def test_card_answers_without_waiting_for_the_timer(manual) -> None:  # type: ignore[no-untyped-def]
    clock, chip, reader, _ = manual
    chip.place_card("DEADBEEF")
    t0 = clock()
    assert reader.poll_once() == "DEADBEEF"
    assert clock() - t0 < TIMEOUT_S  # three transceives, none waited for the timer


def test_deaf_reader_hears_cards_again_within_5_s(manual) -> None:  # type: ignore[no-untyped-def]
    clock, chip, reader, events = manual
    run_for(clock, reader, 3.0)
    chip.make_rf_deaf()
    chip.place_card("0A0B0C0D")
    deaf_at = clock()
    while not events and clock() - deaf_at < 10:
        reader.tick()
        clock.advance(POLL_S)
    assert kinds(events) == ["BadgeTapped"]
    assert clock() - deaf_at <= 5.0


def test_antenna_cleared_one_fault_one_recovery(manual) -> None:  # type: ignore[no-untyped-def]
    clock, chip, reader, events = manual
    run_for(clock, reader, 1.5)
    start = clock()
    chip.clear_antenna()
    run_for(clock, reader, 6.0)
    assert kinds(events) == ["ReaderFault", "ReaderRecovered"]
    fault, recovered = events
    assert isinstance(fault, ReaderFault) and "antenna" in fault.detail
    assert isinstance(recovered, ReaderRecovered)
    assert 0 < fault.at - start <= 1.1  # found by the next 1 s check, in simulated time
    assert recovered.at - fault.at < 0.1
    assert chip.antenna_on
    chip.place_card("01020304")
    run_for(clock, reader, 0.2)
    assert kinds(events)[-1] == "BadgeTapped"


def test_timer_registers_reset_one_fault_one_recovery(manual) -> None:  # type: ignore[no-untyped-def]
    clock, chip, reader, events = manual
    run_for(clock, reader, 0.3)
    chip.reset_registers()  # timer stopped: TimerIRq would never come
    before = chip.transfers
    reader.tick()
    assert chip.transfers - before < 60  # the wait is bounded even without the timer
    run_for(clock, reader, 3.0)
    assert kinds(events) == ["ReaderFault", "ReaderRecovered"]
    chip.place_card("01020304")
    run_for(clock, reader, 0.2)
    assert kinds(events)[-1] == "BadgeTapped"


def test_noisy_field_reads_nothing_and_is_not_a_fault(manual) -> None:  # type: ignore[no-untyped-def]
    clock, chip, reader, events = manual
    chip.noisy = True
    chip.place_card("01020304")
    run_for(clock, reader, 1.0)
    assert events == []
    chip.noisy = False
    run_for(clock, reader, 0.2)
    assert kinds(events) == ["BadgeTapped"]


def test_idle_cost_per_second_is_small(manual) -> None:  # type: ignore[no-untyped-def]
    clock, chip, reader, _ = manual
    run_for(clock, reader, 1.0)
    before, t0 = chip.transfers, clock()
    run_for(clock, reader, 10.0)
    per_s = (chip.transfers - before) / (clock() - t0)
    assert per_s < 40 / POLL_S  # well under 40 transfers per poll, idle re-init included
