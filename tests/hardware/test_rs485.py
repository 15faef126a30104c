"""RS-485 KR-CU16 boards: real pyserial on a pty against fake boards that answer as real ones do
(a 0x35 status frame or silence, never an acknowledgement of their own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hw_helpers import FAST

from hardware.door_monitor import DoorMonitor
from hardware.ports import DoorState, SensorFault, UnlockOutcome
from hardware.rs485 import (
    CMD_QUERY,
    CMD_QUERY_ALL,
    CMD_UNLOCK,
    REPLY_STATUS,
    BoardSpec,
    BusTimings,
    Direction,
    FrameParser,
    RS485Bus,
    RS485LockBank,
    query_all_frame,
    query_frame,
    status_frame,
    unlock_frame,
)
from hardware.sim_rs485 import FakeBoard, FakeRS485Bus

BUS = BusTimings(reply_timeout_s=0.05, spacing_s=0.002, retries=2)

Rig = tuple[FakeRS485Bus, RS485LockBank]


@pytest.fixture
def rig() -> Iterator[Rig]:
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
    assert query_all_frame().encode() == bytes([0x02, 0xF0, 0x32, 0x03, 0x27])
    # 9-byte status: hook 1-8, hook 9-16, IR 1-8, IR 9-16
    assert status_frame(1, 0x0201, 0x0403).encode() == bytes(
        [0x02, 0x10, 0x35, 0x01, 0x02, 0x03, 0x04, 0x03, 0x54]
    )


def test_unlock_answered_with_status_sends_one_frame(rig: Rig) -> None:
    fake, bank = rig
    assert bank.unlock(6) is UnlockOutcome.OPENED
    assert [f.address for f in fake.sent(CMD_UNLOCK)] == [0x11]
    assert fake.board(1).unlocks == [1] and fake.board(0).unlocks == []


def test_opened_then_already_open_sends_no_second_pulse(rig: Rig) -> None:
    fake, bank = rig
    assert bank.unlock(2) is UnlockOutcome.OPENED
    assert bank.unlock(2) is UnlockOutcome.ALREADY_OPEN
    assert len(fake.sent(CMD_UNLOCK)) == 1
    assert fake.board(0).unlocks == [1]


def test_board_that_answers_nothing_gets_one_pulse_and_did_not_open(rig: Rig) -> None:
    """A dead transmitter: the board acts on the unlock but never answers. A host that retried
    the unlock would pulse the lock again; ours sends the frame once."""
    fake, bank = rig
    fake.board(0).silent = True
    assert bank.unlock(1) is UnlockOutcome.DID_NOT_OPEN
    assert bank.last_detail == "board 0 not answering"
    assert len(fake.sent(CMD_UNLOCK)) == 1
    assert fake.board(0).unlocks == [0]
    assert bank.door_state(1) is DoorState.UNKNOWN
    assert bank.bus.stats["retries"] >= BUS.retries  # status queries are retried ...
    assert len(fake.sent(CMD_QUERY)) > 1  # ... the unlock is not


def test_deaf_board_one_pulse_on_the_wire(rig: Rig) -> None:
    fake, bank = rig
    fake.board(0).deaf = True
    assert bank.unlock(3) is UnlockOutcome.DID_NOT_OPEN
    assert len(fake.sent(CMD_UNLOCK)) == 1 and fake.board(0).unlocks == []


def test_jammed_lock_answers_closed_latch(rig: Rig) -> None:
    fake, bank = rig
    fake.board(0).jammed.add(0)
    assert bank.unlock(1) is UnlockOutcome.JAMMED
    assert "stayed latched" in bank.last_detail
    assert len(fake.sent(CMD_UNLOCK)) == 1
    assert bank.door_state(1) is DoorState.CLOSED


def test_board_goes_silent_mid_test(rig: Rig) -> None:
    fake, bank = rig
    events: list[object] = []
    monitor = DoorMonitor([bank], events.append)
    monitor.poll()
    assert bank.unlock(2) is UnlockOutcome.OPENED
    fake.board(0).deaf = True
    assert bank.unlock(3) is UnlockOutcome.DID_NOT_OPEN
    assert bank.last_detail == "board 0 not answering"
    assert bank.door_state(3) is DoorState.UNKNOWN
    for _ in range(3):
        monitor.poll()
    faults = [e for e in events if isinstance(e, SensorFault) and e.number == 3]
    assert len(faults) == 1  # one fault event, not one per poll
    assert bank.board_faults == 1 and bank.silent_boards == {0}
    assert len(fake.sent(CMD_UNLOCK)) == 2  # one per unlock asked for
    assert bank.door_state(5) is DoorState.CLOSED  # the other board still answers
    fake.board(0).deaf = False
    assert bank.door_state(3) is DoorState.CLOSED
    assert bank.silent_boards == set()


def test_several_boards_read_with_one_all_boards_query(rig: Rig) -> None:
    fake, bank = rig
    assert set(bank.door_states().values()) == {DoorState.CLOSED}
    assert len(fake.sent(CMD_QUERY_ALL)) == 1
    assert fake.sent(CMD_QUERY) == []
    assert set(bank.bus.answer_s) == {0, 1}


def test_board_missing_from_sweep_is_asked_alone(rig: Rig) -> None:
    fake, bank = rig
    fake.board(1).deaf = True
    states = bank.door_states()
    assert [states[n] for n in (1, 2, 3, 4)] == [DoorState.CLOSED] * 4
    assert states[5] is states[6] is DoorState.UNKNOWN
    assert {f.board for f in fake.sent(CMD_QUERY)} == {1}


def test_firmware_without_all_boards_query_falls_back(rig: Rig) -> None:
    fake, bank = rig
    for board in fake.boards.values():
        board.knows_query_all = False
    for _ in range(5):
        assert set(bank.door_states().values()) == {DoorState.CLOSED}
    assert len(fake.sent(CMD_QUERY_ALL)) == 3  # then it stops asking
    assert not bank.sweep_enabled


def test_garbage_before_reply_is_resynced(rig: Rig) -> None:
    fake, bank = rig
    fake.inject_garbage(b"\x02\x00\x35\xff\x02noise\x03\x03")
    assert bank.unlock(3) is UnlockOutcome.OPENED
    assert bank.bus.stats["garbage_bytes"] >= 10


def test_corrupt_checksums_retried_then_unknown(rig: Rig) -> None:
    fake, bank = rig
    fake.board(0).corrupt = True
    assert bank.door_state(1) is DoorState.UNKNOWN
    assert len(fake.sent(CMD_QUERY)) == BUS.retries + 1
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


def test_duplicate_board_address_refused() -> None:
    fake = FakeRS485Bus([FakeBoard(0)])
    bus = RS485Bus(fake.port, 19200, BUS)
    try:
        with pytest.raises(ValueError, match="two boards configured with address 0"):
            RS485LockBank("B", bus, [BoardSpec(0, 4), BoardSpec(0, 2)], FAST)
    finally:
        bus.close()
        fake.close()


def test_parser_resyncs_on_split_and_garbage() -> None:
    parser = FrameParser(Direction.REPLY)
    good = status_frame(1, 0x00FF, 0).encode()
    stream = b"\xff\x02\x10" + good + b"\x03\x02" + good
    out = []
    for i in range(len(stream)):
        out += parser.feed(stream[i : i + 1])
    assert [f.command for f in out] == [REPLY_STATUS] * 2
    assert out[0] == out[1] == status_frame(1, 0x00FF, 0)
