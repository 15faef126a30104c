"""Digests recomputed by worker processes give the very report of the serial walk: the
first problem in insertion order, an event's links checked before its contents."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from test_verify_streaming import fill

from db.audit import verify_chain
from db.engine import make_engine, make_read_session_factory, make_session_factory
from db.migrate import upgrade
from db.models import ChainHead, Event

N = 3000


def _alter(s, seq: int) -> None:
    s.execute(update(Event).where(Event.seq == seq).values(payload={"locker": "Z9"}))


def _delete(s, seq: int) -> None:
    s.execute(delete(Event).where(Event.seq == seq))


SCENARIOS = {
    "untouched": [],
    "altered late": [lambda s: _alter(s, 2500)],
    "altered early, deleted later": [lambda s: _alter(s, 700), lambda s: _delete(s, 2000)],
    "deleted early, altered later": [lambda s: _delete(s, 700), lambda s: _alter(s, 2000)],
    "seq rewritten (links and contents both wrong)": [
        lambda s: s.execute(update(Event).where(Event.seq == 1600).values(seq=99_999))
    ],
    "head altered": [
        lambda s: s.execute(update(ChainHead).values(hash="f" * 64)),
    ],
    "head altered and an event altered": [
        lambda s: s.execute(update(ChainHead).values(hash="f" * 64)),
        lambda s: _alter(s, 2999),
    ],
}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("chain") / "chain.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    fill(engine, N)
    engine.dispose()
    return path


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_parallel_report_equals_the_serial_report(template, tmp_path, name):
    path = tmp_path / "c.db"
    path.write_bytes(template.read_bytes())
    engine = make_engine(f"sqlite:///{path}")
    with make_session_factory(engine).begin() as s:
        for change in SCENARIOS[name]:
            change(s)
    reads = make_read_session_factory(engine)
    with reads() as s:
        serial = verify_chain(s, workers=1)
    with reads() as s:
        parallel = verify_chain(s, workers=2)
    with reads() as s:
        assert verify_chain(s) == serial  # the default is the serial walk
    engine.dispose()
    assert parallel == serial
    assert serial.ok == (name == "untouched")
