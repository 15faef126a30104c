"""Receiving a station's batch: check the chain, store once, raise the tray items.

Every check happens before anything is written, so a refused batch changes nothing except,
for a chain break or a rewritten event, the tamper alert it raises. Concurrency: the
station's row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on
SQLite) for the transaction, so two web processes receiving the same station's batch at once
store it once, and different stations never wait for each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from central.bulk import store_events, store_reference
from central.credentials import token_hash
from central.models import Case, Event, Station
from wire import Anchor, IngestAccepted, IngestBatch, IngestRefused, WireEvent, event_digest

Clock = Callable[[], datetime]


class Refusal(Exception):
    """A batch refused: the HTTP status and the wire answer."""

    def __init__(self, status: int, answer: IngestRefused) -> None:
        super().__init__(answer.detail)
        self.status = status
        self.answer = answer


def _anchor(station: Station) -> Anchor:
    return Anchor(seq=station.anchor_seq, hash=station.anchor_hash)


def authenticate(
    session: Session, station_id: str, token: str | None, *, lock: bool = False
) -> Station:
    """The station this credential belongs to, or a 401/403 refusal.

    ``lock``: also take the station's row lock (``FOR UPDATE``) in the same statement, for
    the transaction that stores its batch.
    """
    if not token:
        raise Refusal(401, IngestRefused(error="unauthorised", detail="no bearer credential"))
    query = select(Station).where(Station.token_hash == token_hash(token))
    station = session.scalar(query.with_for_update() if lock else query)
    if station is None:
        raise Refusal(401, IngestRefused(error="unauthorised", detail="credential not recognised"))
    if station.revoked_at is not None:
        raise Refusal(
            403,
            IngestRefused(
                error="revoked",
                detail=f"station {station.station_id}'s credential was revoked; "
                "ask the trust admin for a new one",
            ),
        )
    if station.station_id != station_id:
        raise Refusal(
            403,
            IngestRefused(
                error="wrong_station",
                detail=f"this credential belongs to {station.station_id}, not {station_id}",
            ),
        )
    return station


class Ingestor:
    """Stores batches; one per app, holding no state but the session factory and clock."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    def ingest(
        self,
        station_id: str,
        token: str | None,
        batch: IngestBatch | Callable[[], IngestBatch],
    ) -> IngestAccepted:
        """Store ``batch`` for ``station_id`` or raise :class:`Refusal`.

        ``batch`` may be a parser (the API's), called once the credential is known good:
        a stranger's body is never parsed.
        """
        tamper: tuple[Refusal, WireEvent] | None = None
        with self.sessions.begin() as s:
            # Read under the row lock: a concurrent batch's new anchor is seen, never missed
            # (which would store its events twice).
            station = authenticate(s, station_id, token, lock=True)
            if not isinstance(batch, IngestBatch):
                batch = batch()
            if batch.station_id != station_id:
                raise Refusal(
                    422,
                    IngestRefused(
                        error="invalid",
                        field="station_id",
                        detail=f"batch is for {batch.station_id} but was sent to {station_id}",
                    ),
                )
            try:
                new = self._check(s, station, batch)
            except _Tamper as exc:
                tamper = (exc.refusal, exc.event)
            else:
                return self._store(s, station, batch, new)
        # Outside the batch's transaction (which wrote nothing): record the alert, then refuse.
        refusal, event = tamper
        self._raise_tamper_alert(station_id, refusal.answer, event)
        raise refusal

    # -- checks -------------------------------------------------------------------------

    def _check(self, s: Session, station: Station, batch: IngestBatch) -> list[WireEvent]:
        """The events new to the store, after every check passed (or a refusal)."""
        anchor = _anchor(station)
        previous: WireEvent | None = None
        for ev in batch.events:
            digest = event_digest(
                station_id=station.station_id,
                seq=ev.seq,
                type=ev.type,
                occurred_at=ev.occurred_at,
                actor_id=ev.actor_id,
                holding_id=ev.holding_id,
                payload=ev.payload,
                prev_hash=ev.prev_hash,
            )
            if digest != ev.hash:
                raise _Tamper(
                    Refusal(
                        409,
                        IngestRefused(
                            error="chain_break",
                            seq=ev.seq,
                            field="hash",
                            detail=f"event {ev.seq}'s hash does not cover its contents "
                            "(altered after it was written?)",
                            anchor=anchor,
                        ),
                    ),
                    ev,
                )
            if previous is not None and ev.prev_hash != previous.hash:
                raise _Tamper(self._break(ev, anchor, f"the hash of event {previous.seq}"), ev)
            previous = ev

        held = [ev for ev in batch.events if ev.seq <= anchor.seq]
        if held:
            stored = dict(
                s.execute(
                    select(Event.seq, Event.hash).where(
                        Event.station_pk == station.id,
                        Event.seq >= held[0].seq,
                        Event.seq <= held[-1].seq,
                    )
                ).all()
            )
            for ev in held:
                if stored.get(ev.seq) != ev.hash:
                    raise _Tamper(
                        Refusal(
                            409,
                            IngestRefused(
                                error="rewritten",
                                seq=ev.seq,
                                field="hash",
                                detail=f"event {ev.seq} differs from the one already held "
                                "for this station",
                                anchor=anchor,
                            ),
                        ),
                        ev,
                    )
        new = [ev for ev in batch.events if ev.seq > anchor.seq]
        if new and not held:
            first = new[0]
            if first.seq != anchor.seq + 1:
                raise Refusal(
                    409,
                    IngestRefused(
                        error="gap",
                        seq=first.seq,
                        field="seq",
                        detail=f"events {anchor.seq + 1} to {first.seq - 1} are missing; "
                        f"send from seq {anchor.seq + 1}",
                        anchor=anchor,
                    ),
                )
            if first.prev_hash != anchor.hash:
                raise _Tamper(self._break(first, anchor, f"the held event {anchor.seq}"), first)
        return new

    @staticmethod
    def _break(ev: WireEvent, anchor: Anchor, what: str) -> Refusal:
        return Refusal(
            409,
            IngestRefused(
                error="chain_break",
                seq=ev.seq,
                field="prev_hash",
                detail=f"event {ev.seq}'s prev_hash does not match {what}",
                anchor=anchor,
            ),
        )

    # -- storing ------------------------------------------------------------------------

    def _store(
        self, s: Session, station: Station, batch: IngestBatch, new: Sequence[WireEvent]
    ) -> IngestAccepted:
        now = self.clock()
        store_reference(s, station, batch, now)
        if new:
            store_events(s, station, new, now)  # the anchor and last_seen_at too
        else:
            station.last_seen_at = now
        return IngestAccepted(
            station_id=station.station_id,
            stored=len(new),
            duplicates=len(batch.events) - len(new),
            anchor=_anchor(station),
        )

    def _raise_tamper_alert(self, station_id: str, answer: IngestRefused, ev: WireEvent) -> None:
        """One alert per (station, seq, kind, offered hash): a kiosk retrying adds no more."""
        key = f"tamper:{station_id}:{ev.seq}:{answer.error}:{ev.hash}"
        with self.sessions.begin() as s:
            station = s.scalars(select(Station).where(Station.station_id == station_id)).one()
            if s.scalar(select(Case.id).where(Case.dedupe_key == key)) is not None:
                return
            s.add(
                Case(
                    school_id=station.school_id,
                    station_pk=station.id,
                    category="tamper",
                    title=f"Tamper alert: {station_id} {answer.error.replace('_', ' ')}",
                    detail={
                        "seq": ev.seq,
                        "error": answer.error,
                        "field": answer.field,
                        "reason": answer.detail,
                        "offered_hash": ev.hash,
                        "anchor_seq": station.anchor_seq,
                        "anchor_hash": station.anchor_hash,
                    },
                    opened_at=self.clock(),
                    status="untriaged",
                    dedupe_key=key,
                )
            )


class _Tamper(Exception):
    def __init__(self, refusal: Refusal, event: WireEvent) -> None:
        super().__init__(refusal.answer.detail)
        self.refusal = refusal
        self.event = event
