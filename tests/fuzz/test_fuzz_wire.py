"""Fuzzing the central log's wire format: ``IngestBatch.model_validate_json`` on any bytes.

Property: a batch either validates or raises ``pydantic.ValidationError`` (which the central
log answers with a 4xx naming the field); nothing else may escape, whatever arrives.
"""

from __future__ import annotations

import json

from fuzz_support import fuzz_settings, tally
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from wire import IngestBatch

H = "0" * 64
GOOD = {
    "wire_version": 1,
    "station_id": "office-1",
    "events": [
        {
            "seq": 1,
            "type": "holding.deposited",
            "occurred_at": "2026-11-03T09:00:00+00:00",
            "actor_id": 3,
            "holding_id": 7,
            "payload": {"pupil": 12},
            "prev_hash": H,
            "hash": H,
        }
    ],
    "reference": {
        "pupils": [
            {"id": 12, "mis_id": "A1", "given_name": "A", "family_name": "B", "year_group": "9"}
        ],
        "staff": [{"id": 3, "name": "Pat", "roles": ["office"]}],
        "lockers": [{"id": 1, "bank": "A", "number": 1}],
    },
}

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _check(data: bytes, name: str) -> None:
    tally(name).run(lambda: IngestBatch.model_validate_json(data), (ValidationError,))


@fuzz_settings(300)
@given(st.binary(max_size=2000))
def test_wire_any_bytes(data: bytes) -> None:
    _check(data, "wire_bytes")


@st.composite
def mutated_batch(draw: st.DrawFn) -> bytes:
    """A real batch with one value anywhere replaced by any JSON (or deep nesting)."""
    batch = json.loads(json.dumps(GOOD))
    node, path = batch, []
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        path.append(key)
        node = node[key]
    value = draw(
        _json
        | st.integers(-(10**40), 10**40)
        | st.integers(1, 5000).map(lambda n: json.loads("[" * min(n, 500) + "]" * min(n, 500)))
    )
    if path:
        parent = batch
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
    else:
        batch = value
    text = json.dumps(batch)
    if draw(st.integers(0, 9)) == 0:
        depth = draw(st.integers(1, 20000))
        text = text.replace('{"pupil": 12}', "[" * depth + "]" * depth, 1)
    return text.encode()


@fuzz_settings(300)
@given(mutated_batch())
def test_wire_mutated_batches(data: bytes) -> None:
    _check(data, "wire_mutations")


def test_the_good_batch_is_good() -> None:
    assert IngestBatch.model_validate_json(json.dumps(GOOD)).events[0].seq == 1
