"""RC522: the real mfrc522.MFRC522 code against the emulated chip (fake spidev, fake_rpi)."""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterator

import pytest
from hw_helpers import wait_for

from hardware.ports import BadgeTapped, ReaderFault, ReaderRecovered
from hardware.rc522 import RC522Reader
from hardware.sim_rc522 import DeafMode, FakeMFRC522Chip, install_fake_rpi


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
    assert wait_for(lambda: reader.polls > polls + 40, 3)  # card held for many polls
    assert drain(events) == []  # ... and still only one event
    chip.remove_card()
    assert wait_for(lambda: reader.current_uid is None, 2)
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
        assert wait_for(lambda: reader.soft_resets >= 2, 2)
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
