"""Reading the transactional outbox in chain order, and marking rows sent or quarantined.

Every function takes a session the caller opens and closes around it, so the relay keeps
each transaction short and never holds one across a network call. Rows are read with
Core selects (no ORM identity map): a week offline is 50,000 rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.models import Event, OutboxRow


@dataclass(frozen=True)
class PendingEvent:
    """One unsent event, with the outbox row that tracks it."""

    outbox_id: int
    seq: int
    type: str
    occurred_at: datetime
    actor_id: int | None
    holding_id: int | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    queued_at: datetime


def _station_rows(station_id: str) -> Any:
    return (
        select(OutboxRow.id)
        .join(Event, Event.id == OutboxRow.event_id)
        .where(Event.station_id == station_id)
    )


def pending(
    session: Session, station_id: str, limit: int, after_seq: int = 0
) -> list[PendingEvent]:
    """The oldest ``limit`` unsent, unquarantined events of the station after ``after_seq``,
    by ``seq``.

    ``after_seq`` (the relay passes the last seq it sent or is sending) makes this a range
    read on the events' (station_id, seq) index: a week offline is 100 batches, and without
    it each one sorted every unsent row to find its 500.
    """
    rows = session.execute(
        select(
            OutboxRow.id,
            Event.seq,
            Event.type,
            Event.occurred_at,
            Event.actor_id,
            Event.holding_id,
            Event.payload,
            Event.prev_hash,
            Event.hash,
            OutboxRow.created_at,
        )
        .join(Event, Event.id == OutboxRow.event_id)
        .where(
            Event.station_id == station_id,
            Event.seq > after_seq,
            OutboxRow.sent_at.is_(None),
            OutboxRow.quarantined_at.is_(None),
        )
        .order_by(Event.seq)
        .limit(limit)
    )
    return [PendingEvent(*row) for row in rows]


def quarantined_count(session: Session, station_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .join(Event, Event.id == OutboxRow.event_id)
            .where(Event.station_id == station_id, OutboxRow.quarantined_at.is_not(None))
        )
        or 0
    )


def mark_sent(
    session: Session, station_id: str, first_seq: int, last_seq: int, now: datetime
) -> None:
    """The central log holds the station's events ``first_seq``..``last_seq`` (stored now or
    before): never send them again.

    By seq range rather than a list of outbox ids: the rows are exactly those of a batch
    (:func:`pending` took every unsent, unquarantined row in the range), and 500 ids as an
    ``IN`` list cost more to render and bind than the update itself.
    """
    events = select(Event.id).where(
        Event.station_id == station_id, Event.seq >= first_seq, Event.seq <= last_seq
    )
    session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.event_id.in_(events),
            OutboxRow.sent_at.is_(None),
            OutboxRow.quarantined_at.is_(None),
        )
        .values(sent_at=now, attempts=OutboxRow.attempts + 1, last_error=None)
    )


def record_failure(session: Session, outbox_ids: list[int], error: str) -> None:
    """A try that reached no answer: count it and keep the error for ``kiosk sync status``."""
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(outbox_ids))
        .values(attempts=OutboxRow.attempts + 1, last_error=error[:2000])
    )


def quarantine(session: Session, outbox_ids: list[int], reason: str, now: datetime) -> None:
    """The central log refused these events: stop sending them; keep why, for staff to see."""
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id.in_(outbox_ids))
        .values(
            quarantined_at=now,
            quarantine_reason=reason[:2000],
            attempts=OutboxRow.attempts + 1,
        )
    )


def rewind_after(session: Session, station_id: str, seq: int) -> int:
    """Mark every sent event after ``seq`` unsent again (the central log says it lacks them).

    Returns how many rows will be sent again. Used when the central log answers ``gap``:
    it was restored from an older backup, or it lost a batch we counted as delivered.
    """
    ids = (
        select(OutboxRow.id)
        .join(Event, Event.id == OutboxRow.event_id)
        .where(Event.station_id == station_id, Event.seq > seq, OutboxRow.sent_at.is_not(None))
    )
    result = session.execute(update(OutboxRow).where(OutboxRow.id.in_(ids)).values(sent_at=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
