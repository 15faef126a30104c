"""Migrations reach head and match the models; concurrent ingests store a batch once."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from central.ingest import Ingestor, Refusal
from central.models import Event
from central.sample import SampleStation
from central.store import current_revision, head_revision, make_sessions, schema_drift


def test_migrations_reach_head_and_match_models(engine):
    assert current_revision(engine) == head_revision()
    assert schema_drift(engine) == []


def test_same_batch_from_many_threads_at_once_is_stored_once(central, engine):
    """Several web processes receiving one station's batch at once: the row lock decides."""
    st = SampleStation("oak-1")
    for _ in range(50):
        st.append("station.started", actor_id=None)
    batch = st.batch()
    ingestor = Ingestor(make_sessions(engine), central.clock)
    start = threading.Barrier(6)
    outcomes: list[object] = []

    def push() -> None:
        start.wait(timeout=30)
        try:
            outcomes.append(ingestor.ingest("oak-1", central.tokens["oak-1"], batch))
        except Refusal as exc:  # pragma: no cover - would fail the assertion below
            outcomes.append(exc)

    threads = [threading.Thread(target=push) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    stored = sorted(o.stored for o in outcomes)  # type: ignore[attr-defined]
    assert stored == [0, 0, 0, 0, 0, 50]
    with central.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 50
