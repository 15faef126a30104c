"""Property tests: random bytes with valid frames interleaved never break the parsers."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.rs485 import (
    REPLY_ALL_STATUS,
    Direction,
    FrameParser,
    status_frame,
)
from hardware.serial_reader import BadgeFrameParser, encode_frame

reply_frames = st.one_of(
    st.builds(
        lambda b, d, o: status_frame(b, d, o),
        st.integers(0, 15),
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFF),
    ),
    st.builds(
        lambda b, d, o: status_frame(b, d, o, REPLY_ALL_STATUS),
        st.integers(0, 15),
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFF),
    ),
)
# Garbage without STX: any frame found must then be one we embedded, so "every frame is found"
# is exact. Garbage *with* STX is covered by the no-exception property below.
no_stx = st.binary(max_size=40).map(lambda b: b.replace(b"\x02", b"\x01"))


def feed_in_chunks(parser, data: bytes, cuts: list[int]) -> list:  # type: ignore[no-untyped-def]
    out = []
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for a, b in pairwise(points):
        out += parser.feed(data[a:b])
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(no_stx, reply_frames), max_size=8),
    no_stx,
    st.lists(st.integers(0, 10_000), max_size=10),
)
def test_rs485_every_embedded_frame_found(parts, tail, cuts) -> None:  # type: ignore[no-untyped-def]
    data = b"".join(g + f.encode() for g, f in parts) + tail
    found = feed_in_chunks(FrameParser(Direction.REPLY), data, cuts)
    assert found == [f for _, f in parts]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(0, 10_000), max_size=10))
def test_rs485_never_raises_and_only_returns_valid_frames(data, cuts) -> None:  # type: ignore[no-untyped-def]
    for frame in feed_in_chunks(FrameParser(Direction.REPLY), data, cuts):
        assert frame.encode() in data


badge_data = st.binary(min_size=5, max_size=5).map(lambda b: b.hex().upper())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(no_stx, badge_data, st.booleans()), max_size=8),
    no_stx,
    st.lists(st.integers(0, 10_000), max_size=10),
)
def test_badge_every_embedded_frame_found(parts, tail, cuts) -> None:  # type: ignore[no-untyped-def]
    data = b"".join(g + encode_frame(uid, crlf=crlf) for g, uid, crlf in parts) + tail
    assert feed_in_chunks(BadgeFrameParser(), data, cuts) == [uid for _, uid, _ in parts]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(0, 10_000), max_size=10))
def test_badge_parser_never_raises(data, cuts) -> None:  # type: ignore[no-untyped-def]
    for uid in feed_in_chunks(BadgeFrameParser(), data, cuts):
        assert len(uid) == 10
