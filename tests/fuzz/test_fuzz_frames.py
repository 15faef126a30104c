"""Fuzzing what arrives on the wires: badge-reader serial frames and RS-485 replies.

The parsers are streaming and must never raise; their ``feed`` swallows an internal error
into a log record, so "unhandled" here means an ERROR logged by the parser's module (a caught
crash), as well as any exception. Properties: only well-formed output (10 upper-case hex
digits for a badge; a frame whose checksum and ETX re-encode to the bytes fed), bounded
buffers, and the same result however the bytes are split into reads.
"""

from __future__ import annotations

import logging
from itertools import pairwise

from fuzz_support import fuzz_settings, tally
from hypothesis import given
from hypothesis import strategies as st

import hardware.rs485
import hardware.serial_reader
from hardware.rs485 import Direction, Frame, FrameParser
from hardware.serial_reader import BadgeFrameParser, encode_frame


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _feed_all(parser: object, chunks: list[bytes], logger: logging.Logger) -> list[object]:
    handler = _Errors()
    logger.addHandler(handler)
    try:
        out: list[object] = []
        for chunk in chunks:
            out += parser.feed(chunk)  # type: ignore[attr-defined]
    finally:
        logger.removeHandler(handler)
    if handler.records:
        raise AssertionError(f"parser crashed inside feed: {handler.records[0].getMessage()}")
    return out


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in pairwise(points)]


# Bytes with the parsers' framing bytes (STX, ETX, CR, LF, hex digits) over-represented.
_interesting = st.sampled_from([0x02, 0x03, 0x0D, 0x0A, 0x30, 0x31, 0x35, 0x41, 0x46, 0xFF])
_bytes = st.lists(st.one_of(st.integers(0, 255), _interesting), max_size=400).map(bytes)
_badges = st.text("0123456789ABCDEF", min_size=10, max_size=10).map(
    lambda h: encode_frame(h, crlf=False)
) | st.text("0123456789abcdef", min_size=10, max_size=10).map(lambda h: encode_frame(h, crlf=True))


@fuzz_settings(300)
@given(
    parts=st.lists(st.one_of(_bytes, _badges), max_size=8),
    cuts=st.lists(st.integers(0, 5000), max_size=12),
)
def test_badge_reader_frames(parts: list[bytes], cuts: list[int]) -> None:
    data = b"".join(parts)
    logger = logging.getLogger(hardware.serial_reader.__name__)

    def run() -> tuple[list[object], list[object]]:
        whole = _feed_all(BadgeFrameParser(), [data], logger)
        split = _feed_all(BadgeFrameParser(), _split(data, cuts), logger)
        return whole, split

    whole, split = tally("serial_badge_frames").run(run, ())
    assert whole == split  # how the UART splits the bytes changes nothing
    for uid in whole:
        assert isinstance(uid, str) and len(uid) == 10 and uid == uid.upper()
        int(uid, 16)
    parser = BadgeFrameParser()
    parser.feed(data)
    assert len(parser._buf) <= BadgeFrameParser.MAX_BUFFER


@fuzz_settings(300)
@given(
    direction=st.sampled_from(list(Direction)),
    parts=st.lists(
        st.one_of(
            _bytes,
            st.builds(
                lambda b, d, o: hardware.rs485.status_frame(b, d, o).encode(),
                st.integers(0, 15),
                st.integers(0, 0xFFFF),
                st.integers(0, 0xFFFF),
            ),
            st.builds(lambda b: hardware.rs485.query_frame(b).encode(), st.integers(0, 15)),
            st.builds(
                lambda b, i: hardware.rs485.unlock_frame(b, i).encode(),
                st.integers(0, 15),
                st.integers(0, 15),
            ),
        ),
        max_size=8,
    ),
    cuts=st.lists(st.integers(0, 5000), max_size=12),
)
def test_rs485_frames(direction: Direction, parts: list[bytes], cuts: list[int]) -> None:
    data = b"".join(parts)
    logger = logging.getLogger(hardware.rs485.__name__)

    def run() -> list[object]:
        return _feed_all(FrameParser(direction), _split(data, cuts), logger)

    frames = tally(f"rs485_frames_{direction.name.lower()}").run(run, ())
    for frame in frames:
        assert isinstance(frame, Frame)
        assert frame.encode() in data  # every frame reported was really on the wire
