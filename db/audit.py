"""Append-only, hash-chained event log, one chain per station.

Each event's hash covers its station, sequence number, type, time, actor, holding, payload
and the previous event's hash, so changing, deleting or reordering any row breaks the chain
at that row. :class:`db.models.ChainHead` pins the newest event so a deleted tail shows too.
Every event also gets its outbox row in the same transaction (the caller commits).

Retention removes the *oldest* events only, and only through :func:`purge_events_through`:
it records a :class:`db.models.ChainCheckpoint` (the seq and hash of the newest event it
deleted), and the purge's own ``retention.purged`` event repeats that checkpoint in its hashed
payload. Verification starts from the checkpoint instead of the genesis hash and refuses a
checkpoint that no such event vouches for, so deleting old events by hand still shows, as do
deletions in the middle (a seq gap) and at the tail (the chain head).
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from db.chain_workers import canonical_stored_time, first_altered
from db.models import ChainCheckpoint, ChainHead, Event, OutboxRow
from wire.chain import GENESIS_HASH, event_digest

_EVENTS = cast(Table, Event.__table__)
_HEADS = cast(Table, ChainHead.__table__)
_OUTBOX = cast(Table, OutboxRow.__table__)
_HEAD_FOR_UPDATE = (
    select(_HEADS.c.seq, _HEADS.c.hash)
    .where(_HEADS.c.station_id == bindparam("station"))
    .with_for_update()
)
_INSERT_EVENT = insert(_EVENTS)
_INSERT_HEAD = insert(_HEADS)
_MOVE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.station_id == bindparam("station"))
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_INSERT_OUTBOX = insert(_OUTBOX)
#: PostgreSQL only, for a station's first event (see :func:`append_event`): a transaction
#: lock on the station's name, in the two-key advisory space with :data:`_NEW_CHAIN_LOCKS` as
#: the first key so it cannot meet a single-key advisory lock taken for something else.
#: ``hashtext`` may give two stations one key: their first events then merely take turns.
_NEW_CHAIN_LOCKS = 0x6B63  # "kc": kiosk chain
_LOCK_NEW_CHAIN = text(f"SELECT pg_advisory_xact_lock({_NEW_CHAIN_LOCKS}, hashtext(:station))")

#: ``Session.info`` key: {station: (seq, hash)} of the newest event each station's chain got
#: in the session's current transaction (read and cleared by ``kiosk.audit_anchor``).
APPENDED_HEADS = "audit_heads"

#: The event a retention purge writes; its payload's ``checkpoint`` vouches for the new one.
PURGE_EVENT = "retention.purged"


def event_hash(event: Event) -> str:
    """The event's digest, computed the one way the central log computes it too."""
    return event_digest(
        station_id=event.station_id,
        seq=event.seq,
        type=event.type,
        occurred_at=event.occurred_at,
        actor_id=event.actor_id,
        holding_id=event.holding_id,
        payload=event.payload,
        prev_hash=event.prev_hash,
    )


def append_event(
    session: Session,
    *,
    station_id: str,
    type: str,
    occurred_at: datetime,
    actor_id: int | None = None,
    holding_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> Event:
    """Add the next event of this station's chain and its outbox row to ``session``.

    The chain head row is read ``FOR UPDATE`` where the database supports it; on SQLite the
    write transaction itself serialises writers. A station's first event has no head row to
    lock: on PostgreSQL the station's advisory lock stands in for it (below), so two first
    events at once chain one after the other instead of both taking seq 1.

    One flush (issue 15, tap to unlock): whatever the caller changed (the holding's new
    state) is flushed, then the event, the chain head and the outbox row go in as plain SQL
    statements, so the commit that follows has nothing left to flush. The head is read as
    columns, not as an ORM object, so the plain UPDATE leaves no stale copy in the session
    for the next append of the same transaction.
    """
    payload = payload or {}
    conn = session.connection()
    # The head as columns, through the connection: no ORM object, and no autoflush before
    # the chain is read (the caller's changes are flushed once, below).
    head = conn.execute(_HEAD_FOR_UPDATE, {"station": station_id}).one_or_none()
    if head is None and conn.dialect.name == "postgresql":
        # No head row yet, so ``FOR UPDATE`` locked nothing (READ COMMITTED has no lock on a
        # row that does not exist): a second writer starting now would read "no head" too,
        # and both would write seq 1, the second failing on the unique index when the first
        # commits. So the new station's first writers queue on an advisory lock on its name,
        # held to the end of the transaction, and read the head again once they have it: a
        # new statement, so it sees the head the writer before committed (and locks it).
        # Chosen over ``INSERT .. ON CONFLICT DO NOTHING`` of a placeholder head: no seq-0
        # head row that the verifier would have to accept, and nothing to undo on rollback.
        # Only here: once the head exists its row lock serialises writers, and the hot path
        # pays no extra statement. (SQLite: ``BEGIN IMMEDIATE`` serialises writers already,
        # db.engine._begin.)
        conn.execute(_LOCK_NEW_CHAIN, {"station": station_id})
        head = conn.execute(_HEAD_FOR_UPDATE, {"station": station_id}).one_or_none()
    seq = 1 if head is None else head.seq + 1
    prev_hash = GENESIS_HASH if head is None else head.hash
    row: dict[str, Any] = {
        "station_id": station_id,
        "seq": seq,
        "type": type,
        "occurred_at": occurred_at,
        "actor_id": actor_id,
        "holding_id": holding_id,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    digest = event_digest(**row)
    # The caller's pending changes first (its new holding, its state change), then the event
    # as a plain INSERT: the ORM unit of work for an append-only row that is never changed
    # again was most of an append's cost (issue 15, exam rush). Same statements as before;
    # the statements are built once (module level), so only their parameters change.
    session.flush()
    key = conn.execute(_INSERT_EVENT, {**row, "hash": digest}).inserted_primary_key
    assert key is not None  # a single-row INSERT always has one
    event_id = key[0]
    if head is None:
        conn.execute(_INSERT_HEAD, {"station_id": station_id, "seq": seq, "hash": digest})
    else:
        conn.execute(_MOVE_HEAD, {"station": station_id, "new_seq": seq, "new_hash": digest})
    conn.execute(_INSERT_OUTBOX, {"event_id": event_id, "created_at": occurred_at, "attempts": 0})
    # The newest head this transaction wrote, for the keyed anchor written after its commit
    # (kiosk.audit_anchor): the event is not an ORM object the session's flush would show.
    heads: dict[str, tuple[int, str]] = session.info.setdefault(APPENDED_HEADS, {})
    heads[station_id] = (seq, digest)
    # Returned for the caller to read, not added to the session (the row is written above).
    return Event(id=event_id, **row, hash=digest)


@dataclass(frozen=True)
class ChainProblem:
    station_id: str
    event_id: int | None
    seq: int | None
    detail: str

    def __str__(self) -> str:
        where = f"event id {self.event_id} (seq {self.seq})" if self.event_id else "chain head"
        return f"station {self.station_id}: {where}: {self.detail}"


@dataclass(frozen=True)
class ChainReport:
    events_checked: int
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def checkpoint_payload(checkpoint: ChainCheckpoint) -> dict[str, Any]:
    """What a ``retention.purged`` event carries to vouch for ``checkpoint``."""
    return {"seq": checkpoint.seq, "hash": checkpoint.hash}


def purge_events_through(
    session: Session, *, station_id: str, seq: int, now: datetime
) -> ChainCheckpoint | None:
    """Delete this station's events up to and including ``seq`` (and their outbox rows).

    Only a prefix of the chain can go: the newest deleted event becomes the checkpoint that
    verification starts from. The caller must then append a :data:`PURGE_EVENT` whose payload
    has ``"checkpoint": checkpoint_payload(cp)`` in the same transaction. Returns None when
    nothing is that old.
    """
    last = session.scalars(
        select(Event)
        .where(Event.station_id == station_id, Event.seq <= seq)
        .order_by(Event.seq.desc())
    ).first()
    if last is None:
        return None
    doomed = select(Event.id).where(Event.station_id == station_id, Event.seq <= last.seq)
    session.execute(delete(OutboxRow).where(OutboxRow.event_id.in_(doomed)))
    session.execute(
        delete(Event)
        .where(Event.station_id == station_id, Event.seq <= last.seq)
        .execution_options(synchronize_session=False)
    )
    checkpoint = session.get(ChainCheckpoint, station_id)
    if checkpoint is None:
        checkpoint = ChainCheckpoint(station_id=station_id, seq=0, hash="", purged_at=now)
        session.add(checkpoint)
    checkpoint.seq, checkpoint.hash, checkpoint.purged_at = last.seq, last.hash, now
    session.flush()
    return checkpoint


#: Rows fetched per round trip while verifying: big enough to amortise the fetch, small enough
#: that memory stays flat (a few MB) whatever the ledger's size.
VERIFY_BATCH = 2000


def _station_rows(
    session: Session, station: str, *, contents: bool = True
) -> Generator[tuple[Any, ...], None, None]:
    """This station's events in insertion order as plain tuples, streamed.

    Only the columns the hash covers: no ORM objects, no identity map, so a six-year ledger
    verifies in the same few MB as a week's. On SQLite the rows come straight from the
    driver's cursor (which steps through the table as it is read) with the time as its stored
    text and the payload parsed here: SQLAlchemy's per-row result processing was 40 % of
    verify's time. Elsewhere (PostgreSQL) a Core select with ``yield_per`` (a server-side
    cursor) does the same.
    """
    if not contents:  # links only (digests are checked by workers): no JSON, no time
        result = session.connection().exec_driver_sql(
            "SELECT id, seq, type, prev_hash, hash, CASE WHEN type = ? THEN payload END "
            "FROM events WHERE station_id = ? ORDER BY id",
            (PURGE_EVENT, station),
        )
        try:
            for ev_id, seq, type_, prev, digest, payload in result:
                body = json.loads(payload) if payload is not None else None
                yield ev_id, seq, type_, None, None, None, body, prev, digest
        finally:
            result.close()
        return
    if session.get_bind().dialect.name == "sqlite":
        result = session.connection().exec_driver_sql(
            "SELECT id, seq, type, occurred_at, actor_id, holding_id, payload, prev_hash, hash "
            "FROM events WHERE station_id = ? ORDER BY id",
            (station,),
        )
        try:
            for ev_id, seq, type_, when, actor, holding, payload, prev, digest in result:
                yield ev_id, seq, type_, when, actor, holding, json.loads(payload), prev, digest
        finally:
            result.close()
        return
    rows = session.execute(
        select(
            Event.id,
            Event.seq,
            Event.type,
            Event.occurred_at,
            Event.actor_id,
            Event.holding_id,
            Event.payload,
            Event.prev_hash,
            Event.hash,
        )
        .where(Event.station_id == station)
        .order_by(Event.id)
        .execution_options(yield_per=VERIFY_BATCH)
    )
    try:
        yield from rows
    finally:
        rows.close()


#: A station with at least this many events has its digests recomputed by worker processes
#: (SQLite files, more than one CPU): below it, starting the workers costs more than it saves.
PARALLEL_FROM = 50_000


def verify_chain(session: Session, *, workers: int | None = 1) -> ChainReport:
    """Walk every station's chain in insertion order and report the first bad event.

    A station whose oldest events were purged is walked from its checkpoint, which a
    ``retention.purged`` event still in the chain must vouch for.

    Streams (:func:`_station_rows`): rows arrive as column tuples, a batch at a time, and
    only the previous event's seq and hash are kept, so memory does not grow with the
    ledger (issue 15: ~2.3 KB per event before).

    ``workers`` > 1 (or None: one per CPU, for stations of :data:`PARALLEL_FROM` events or
    more) recompute the digests over id ranges in worker processes while this process checks
    the links in order, on a SQLite file; the report is the serial walk's (the first problem
    in insertion order, an event's links checked before its contents). The default is the
    serial walk: on the shared 2-core machine the workers did not pay reliably
    (docs/BENCHMARKS.md); try ``workers=None`` on a Pi 4's four cores.
    """
    checked = 0
    heads = {h.station_id: (h.seq, h.hash) for h in session.scalars(select(ChainHead))}
    checkpoints = {c.station_id: (c.seq, c.hash) for c in session.scalars(select(ChainCheckpoint))}
    stations = set(heads) | set(checkpoints)
    stations |= set(session.scalars(select(Event.station_id).distinct()))
    for station in sorted(stations):
        plan = _parallel_plan(session, station, workers)
        pool = None
        futures: list[Any] = []
        if plan is not None:
            # Here, not at the top: the station appends events through this module all day
            # and never verifies in parallel; multiprocessing is ~0.4 MB of imports.
            from concurrent.futures import ProcessPoolExecutor
            from multiprocessing import get_context

            path, ranges = plan
            pool = ProcessPoolExecutor(len(ranges), mp_context=get_context("spawn"))
            futures = [pool.submit(first_altered, path, station, lo, hi) for lo, hi in ranges]
        try:
            n, problem = _walk(
                session, station, checkpoints.get(station), heads.get(station), plan is None
            )
            if pool is not None:
                altered = [i for i in (f.result() for f in futures) if i is not None]
                first = min(altered, default=None)
                if first is not None and (
                    problem is None or problem.event_id is None or first < problem.event_id
                ):
                    n, problem = _altered(session, station, first)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        checked += n
        if problem is not None:
            return ChainReport(checked, problem)
    return ChainReport(checked, None)


def _parallel_plan(
    session: Session, station: str, workers: int | None
) -> tuple[str, list[tuple[int, int]]] | None:
    """The database file and the id ranges to hand to workers, or None for the serial walk."""
    bind = session.get_bind()
    path = bind.engine.url.database if bind.dialect.name == "sqlite" else None
    count = workers if workers is not None else (os.cpu_count() or 1)
    if path in (None, "", ":memory:") or count < 2:
        return None
    lo, hi, n = session.execute(
        select(func.min(Event.id), func.max(Event.id), func.count(Event.id)).where(
            Event.station_id == station
        )
    ).one()
    if not n or (workers is None and n < PARALLEL_FROM):
        return None
    step = -(-(hi - lo + 1) // count)
    ranges = [(start, min(start + step - 1, hi)) for start in range(lo, hi + 1, step)]
    return str(path), ranges


def _altered(session: Session, station: str, event_id: int) -> tuple[int, ChainProblem]:
    """The report for the event a worker found altered: its position and seq."""
    seq = session.scalar(select(Event.seq).where(Event.id == event_id))
    position = session.scalar(
        select(func.count(Event.id)).where(Event.station_id == station, Event.id <= event_id)
    )
    return int(position or 0), ChainProblem(
        station, event_id, seq, "contents altered: hash does not match"
    )


def _walk(
    session: Session,
    station: str,
    checkpoint: tuple[int, str] | None,
    head: tuple[int, str] | None,
    hashing: bool,
) -> tuple[int, ChainProblem | None]:
    """One station's chain in order: (events checked, first problem or None).

    Without ``hashing`` only the links are checked (digests are the workers' job).
    """
    checked = 0
    prev_hash, expected_seq = GENESIS_HASH, 1
    vouching: dict[str, Any] | None = None
    if checkpoint is not None:
        prev_hash, expected_seq = checkpoint[1], checkpoint[0] + 1
        vouching = {"seq": checkpoint[0], "hash": checkpoint[1]}
    vouched = checkpoint is None
    last: tuple[int, str] | None = None
    rows = _station_rows(session, station, contents=hashing)
    try:
        for ev_id, seq, type_, occurred_at, actor_id, holding_id, payload, prev, digest in rows:
            checked += 1
            if seq != expected_seq:
                what = "missing" if seq > expected_seq else "out of order"
                return checked, ChainProblem(
                    station,
                    ev_id,
                    seq,
                    f"expected seq {expected_seq}, found {seq}: events {what} "
                    "(deleted or reordered rows)",
                )
            if prev != prev_hash:
                return checked, ChainProblem(
                    station, ev_id, seq, "prev_hash does not match the event before"
                )
            if hashing and digest != event_digest(
                station_id=station,
                seq=seq,
                type=type_,
                occurred_at=canonical_stored_time(occurred_at),
                actor_id=actor_id,
                holding_id=holding_id,
                payload=payload,
                prev_hash=prev,
            ):
                return checked, ChainProblem(
                    station, ev_id, seq, "contents altered: hash does not match"
                )
            if (
                vouching is not None
                and type_ == PURGE_EVENT
                and payload.get("checkpoint") == vouching
            ):
                vouched = True
            prev_hash, expected_seq, last = digest, expected_seq + 1, (seq, digest)
    finally:
        rows.close()
    if not vouched:
        assert checkpoint is not None
        detail = (
            f"checkpoint at seq {checkpoint[0]} is not recorded by any {PURGE_EVENT} "
            "event: the oldest events were deleted outside a retention purge"
        )
        return checked, ChainProblem(station, None, None, detail)
    if head is None or last is None or head != last:
        detail = (
            f"chain head says seq {head[0] if head else None} but the last event is "
            f"seq {last[0] if last else None}: newest events deleted or head altered"
        )
        return checked, ChainProblem(station, None, None, detail)
    return checked, None
