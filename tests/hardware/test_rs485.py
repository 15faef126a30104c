"""RS-485 lock boards: real pyserial on a pty against the fake CU16-style board."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hw_helpers import FAST

from hardware.door_monitor import DoorMonitor
from hardware.ports import DoorState, SensorFault, UnlockOutcome
from hardware.rs485 import (
    BoardSpec,
    BusTimings,
    Direction,
    Frame,
    FrameParser,
    RS485Bus,
    RS485LockBank,
    query_frame,
    unlock_frame,
)
from hardware.sim_rs485 import FakeBoard, FakeRS485Bus

BUS = BusTimings(reply_timeout_s=0.05, spacing_s=0.002, retries=2)


@pytest.fixture
def rig() -> Iterator[tuple[FakeRS485Bus, RS485LockBank]]:
    fake = FakeRS485Bus([FakeBoard(0, locks=4), FakeBoard(1, locks=2, door_closed_bit=0)])
    bus = RS485Bus(fake.port, 19200, BUS)
    bank = RS485LockBank(
        "B",
        bus,
        [BoardSpec(0, 4), BoardSpec(1, 2, door_closed_bit=0)],
        FAST,
        status_max_age_s=0,
    )
    yield fake, bank
    bank.close()
    fake.close()


def test_wire_format_matches_documented_bytes() -> None:
    assert query_frame(0).encode() == bytes.fromhex("0200300335")
    expected = bytes([0x02, 0x12, 0x31, 0x03, (0x02 + 0x12 + 0x31 + 0x03)])
    assert unlock_frame(1, 2).encode() == expected


def test_two_boards_and_numbering(rig: tuple[FakeRS485Bus, RS485LockBank]) -> None:
    fake, bank = rig
    assert bank.numbers() == [1, 2, 3, 4, 5, 6]
    assert set(bank.door_states().values()) == {DoorState.CLOSED}
    assert bank.unlock(6) is UnlockOutcome.OPENED
    assert fake.board(1).unlocks == [1] and fake.board(0).unlocks == []


def test_opened_then_already_open(rig: tuple[FakeRS485Bus, RS485LockBank]) -> None:
    fake, bank = rig
    assert bank.unlock(2) is UnlockOutcome.OPENED
    assert bank.unlock(2) is UnlockOutcome.ALREADY_OPEN
    assert fake.board(0).unlocks == [1]  # no second pulse


def test_jammed_when_board_reports_fault(rig: tuple[FakeRS485Bus, RS485LockBank]) -> None:
    fake, bank = rig
    fake.board(0).jammed.add(0)
    assert bank.unlock(1) is UnlockOutcome.JAMMED
    assert bank.door_state(1) is DoorState.CLOSED


def test_garbage_before_reply_is_resynced(rig: tuple[FakeRS485Bus, RS485LockBank]) -> None:
    fake, bank = rig
    fake.inject_garbage(b"\x02\x00\x35\xff\x02noise\x03\x03")
    assert bank.unlock(3) is UnlockOutcome.OPENED
    assert bank.bus.stats["garbage_bytes"] >= 10


def test_silent_board_gives_unknown_not_exception(
    rig: tuple[FakeRS485Bus, RS485LockBank],
) -> None:
    fake, bank = rig
    fake.board(0).silent = True
    assert bank.door_state(1) is DoorState.UNKNOWN
    assert bank.door_state(5) is DoorState.CLOSED  # the other board still answers
    assert bank.unlock(1) is UnlockOutcome.DID_NOT_OPEN
    assert "did not answer" in bank.last_detail
    assert bank.bus.stats["retries"] >= BUS.retries
    events: list[object] = []
    monitor = DoorMonitor([bank], events.append)
    monitor.poll()
    faults = [e for e in events if isinstance(e, SensorFault)]
    assert {(f.bank, f.number) for f in faults} == {("B", n) for n in (1, 2, 3, 4)}


def test_corrupt_checksums_retried_then_unknown(rig: tuple[FakeRS485Bus, RS485LockBank]) -> None:
    fake, bank = rig
    fake.board(0).corrupt = True
    assert bank.door_state(1) is DoorState.UNKNOWN
    fake.board(0).corrupt = False
    assert bank.door_state(1) is DoorState.CLOSED


def test_polarity_misconfigured_reads_everything_open() -> None:
    """The calibration symptom docs/hardware.md describes: all shut doors read OPEN."""
    fake = FakeRS485Bus([FakeBoard(0, locks=4, door_closed_bit=0)])
    bank = RS485LockBank("B", RS485Bus(fake.port, 19200, BUS), [BoardSpec(0, 4)], FAST)
    try:
        assert set(bank.door_states().values()) == {DoorState.OPEN}
        assert bank.raw_door_bit(1) == 0
    finally:
        bank.close()
        fake.close()


def test_parser_resyncs_on_split_and_garbage() -> None:
    parser = FrameParser(Direction.REPLY)
    good = Frame(0x10, 0x31, b"\x00").encode()
    stream = b"\xff\x02\x10" + good + b"\x03\x02" + good
    out = []
    for i in range(len(stream)):
        out += parser.feed(stream[i : i + 1])
    assert out == [Frame(0x10, 0x31, b"\x00")] * 2
