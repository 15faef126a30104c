"""Recomputing event digests in worker processes, for :func:`db.audit.verify_chain`.

Each event's digest depends only on its own row (its ``prev_hash`` is stored in it), so a
big chain's digests can be recomputed over id ranges in parallel while the calling process
checks the links (seq, ``prev_hash``, head, checkpoint) in order. This module imports only
the standard library and :mod:`wire.chain` so that a freshly spawned worker starts fast.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from wire.chain import canonical_time, event_digest


def canonical_stored_time(value: str | datetime) -> str:
    """``canonical_time`` of a time as SQLite stores it (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC).

    Gives exactly ``datetime.isoformat()`` of the aware UTC time (no fraction when it is
    zero) without parsing it; any other shape goes the slow, sure way.
    """
    if isinstance(value, str) and len(value) == 26 and value[10] == " " and value[19] == ".":
        if value.endswith("000000"):
            return f"{value[:10]}T{value[11:19]}+00:00"
        return f"{value[:10]}T{value[11:]}+00:00"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return canonical_time(moment)


def first_altered(path: str, station: str, lo: int, hi: int) -> int | None:
    """The id of the first event of ``station`` with ``lo <= id <= hi`` whose contents do not
    hash to its stored hash, or None. Opens its own connection (only reads)."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT id, seq, type, occurred_at, actor_id, holding_id, payload, prev_hash, hash "
            "FROM events WHERE station_id = ? AND id BETWEEN ? AND ? ORDER BY id",
            (station, lo, hi),
        )
        for ev_id, seq, type_, when, actor, holding, payload, prev, digest in rows:
            recomputed = event_digest(
                station_id=station,
                seq=seq,
                type=type_,
                occurred_at=canonical_stored_time(when),
                actor_id=actor,
                holding_id=holding,
                payload=json.loads(payload),
                prev_hash=prev,
            )
            if recomputed != digest:
                return int(ev_id)
    finally:
        conn.close()
    return None
