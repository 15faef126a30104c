"""Receiving a station's batch: check the chain, store once, raise the tray items.

Every check happens before anything is written, so a refused batch changes nothing except,
for a chain break or a rewritten event, the tamper alert it raises. Concurrency: the
station's row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on
SQLite) for the transaction, so two web processes receiving the same station's batch at once
store it once, and different stations never wait for each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Table, cast, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, sessionmaker

from central.credentials import token_hash
from central.models import (
    Case,
    Event,
    HoldingRef,
    Pupil,
    PupilLink,
    StaffRef,
    Station,
    UTCDateTime,
)
from central.triage import tray_item
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


def authenticate(session: Session, station_id: str, token: str | None) -> Station:
    """The station this credential belongs to, or a 401/403 refusal."""
    if not token:
        raise Refusal(401, IngestRefused(error="unauthorised", detail="no bearer credential"))
    station = session.scalar(select(Station).where(Station.token_hash == token_hash(token)))
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

    def ingest(self, station_id: str, token: str | None, batch: IngestBatch) -> IngestAccepted:
        """Store ``batch`` for ``station_id`` or raise :class:`Refusal`."""
        if batch.station_id != station_id:
            raise Refusal(
                422,
                IngestRefused(
                    error="invalid",
                    field="station_id",
                    detail=f"batch is for {batch.station_id} but was sent to {station_id}",
                ),
            )
        tamper: tuple[Refusal, WireEvent] | None = None
        with self.sessions.begin() as s:
            station = authenticate(s, station_id, token)
            # populate_existing: the row read unlocked above must be re-read under the lock,
            # or a concurrent batch's new anchor would be missed and stored twice.
            station = s.scalars(
                select(Station)
                .where(Station.id == station.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one()
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
        _upsert_reference(s, station, batch, now)
        if new:
            pupil_of = _pupil_resolver(s, station, new)
            rows = [
                {
                    "station_pk": station.id,
                    "school_id": station.school_id,
                    "seq": ev.seq,
                    "type": ev.type,
                    "occurred_at": datetime.fromisoformat(ev.occurred_at),
                    "occurred_at_text": ev.occurred_at,
                    "actor_id": ev.actor_id,
                    "holding_id": ev.holding_id,
                    "payload": ev.payload,
                    "prev_hash": ev.prev_hash,
                    "hash": ev.hash,
                    "received_at": now,
                    "pupil_pk": pupil_of(ev),
                }
                for ev in new
            ]
            _insert_events(s, rows)
            self._raise_cases(s, station, new, rows)
            station.anchor_seq = new[-1].seq
            station.anchor_hash = new[-1].hash
        station.last_seen_at = now
        return IngestAccepted(
            station_id=station.station_id,
            stored=len(new),
            duplicates=len(batch.events) - len(new),
            anchor=_anchor(station),
        )

    def _raise_cases(
        self,
        s: Session,
        station: Station,
        new: Sequence[WireEvent],
        rows: Sequence[dict[str, Any]],
    ) -> None:
        items = {ev.seq: item for ev in new if (item := tray_item(ev.type, ev.payload))}
        if not items:
            return
        ids = dict(
            s.execute(
                select(Event.seq, Event.id).where(
                    Event.station_pk == station.id, Event.seq.in_(list(items))
                )
            ).all()
        )
        by_seq = {row["seq"]: row for row in rows}
        case_rows = [
            {
                "school_id": station.school_id,
                "station_pk": station.id,
                "event_pk": ids[seq],
                "pupil_pk": by_seq[seq]["pupil_pk"],
                "category": item.category,
                "title": item.title,
                "detail": {"seq": seq, "type": by_seq[seq]["type"]},
                "opened_at": by_seq[seq]["occurred_at"],
                "status": "untriaged",
                "dedupe_key": f"event:{ids[seq]}",
            }
            for seq, item in items.items()
        ]
        _append_rows(s, Case.__table__, list(case_rows[0]), case_rows)  # type: ignore[arg-type]

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


_EVENT_COLUMNS = (
    "station_pk",
    "school_id",
    "seq",
    "type",
    "occurred_at",
    "occurred_at_text",
    "actor_id",
    "holding_id",
    "payload",
    "prev_hash",
    "hash",
    "received_at",
    "pupil_pk",
)


def _insert_events(s: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append the batch's events (see :func:`_append_rows`)."""
    _append_rows(s, Event.__table__, _EVENT_COLUMNS, rows)  # type: ignore[arg-type]


def _append_rows(
    s: Session, table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert rows: ``COPY`` on PostgreSQL (several times faster than INSERT for a batch of
    hundreds: one stream, nothing to compile), an executemany INSERT elsewhere.

    Unique constraints (events' station and seq) still guard against a double store.
    """
    if s.get_bind().dialect.name != "postgresql":
        s.execute(insert(table), list(rows))
        return
    times = {c.name for c in table.columns if isinstance(c.type, UTCDateTime)}
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    cursor = s.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [
                    _naive_utc(row[c])
                    if c in times
                    else json.dumps(row[c])
                    if c in json_columns
                    else row[c]
                    for c in columns
                ]
            )


def _naive_utc(moment: datetime) -> datetime:
    """What :class:`central.models.UTCDateTime` stores: UTC without a zone."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _upsert(
    s: Session, table: Table, rows: list[dict[str, Any]], keys: Iterable[str], update: Iterable[str]
) -> None:
    """INSERT ... ON CONFLICT DO UPDATE, on PostgreSQL or SQLite (safe under concurrency).

    One multi-row statement per chunk rather than an executemany: a batch's reference data
    is then one round trip, not one per row. Rows whose values did not change are not
    rewritten (the ``WHERE ... IS DISTINCT FROM``), so a re-sent batch writes nothing.
    """
    if not rows:
        return
    dialect = s.get_bind().dialect.name
    update = list(update)
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        ins = (
            postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        ).values(chunk)
        changed = or_(*(_distinct(table.c[c], ins.excluded[c], dialect) for c in update))
        s.execute(
            ins.on_conflict_do_update(
                index_elements=list(keys),
                set_={c: ins.excluded[c] for c in update},
                where=changed,
            )
        )


def _distinct(stored: Any, sent: Any, dialect: str) -> Any:
    """``stored IS DISTINCT FROM sent``; PostgreSQL's ``json`` has no equality, so JSON
    columns are compared as ``jsonb`` there (found by the sync relay's end-to-end tests)."""
    if dialect == "postgresql" and isinstance(stored.type, JSON):
        return cast(stored, JSONB).is_distinct_from(cast(sent, JSONB))
    return stored.is_distinct_from(sent)


_CHUNK = 500
"""Rows per multi-row statement: under SQLite's and PostgreSQL's bound-parameter limits."""


def _upsert_reference(s: Session, station: Station, batch: IngestBatch, now: datetime) -> None:
    """Names, year groups, staff and holdings as the kiosk knows them now (beside the chain)."""
    ref = batch.reference
    pupils = {p.mis_id: p for p in ref.pupils}
    _upsert(
        s,
        Pupil.__table__,  # type: ignore[arg-type]
        [
            {
                "school_id": station.school_id,
                "mis_id": p.mis_id,
                "given_name": p.given_name,
                "family_name": p.family_name,
                "year_group": p.year_group,
                "updated_at": now,
            }
            for p in pupils.values()
        ],
        ["school_id", "mis_id"],
        ["given_name", "family_name", "year_group", "updated_at"],
    )
    if pupils:
        ids = dict(
            s.execute(
                select(Pupil.mis_id, Pupil.id).where(
                    Pupil.school_id == station.school_id, Pupil.mis_id.in_(list(pupils))
                )
            ).all()
        )
        _upsert(
            s,
            PupilLink.__table__,  # type: ignore[arg-type]
            [
                {"station_pk": station.id, "local_id": p.id, "pupil_pk": ids[p.mis_id]}
                for p in pupils.values()
            ],
            ["station_pk", "local_id"],
            ["pupil_pk"],
        )
    _upsert(
        s,
        StaffRef.__table__,  # type: ignore[arg-type]
        [
            {"station_pk": station.id, "local_id": m.id, "name": m.name, "roles": list(m.roles)}
            for m in {m.id: m for m in ref.staff}.values()
        ],
        ["station_pk", "local_id"],
        ["name", "roles"],
    )
    _upsert(
        s,
        HoldingRef.__table__,  # type: ignore[arg-type]
        [
            {"station_pk": station.id, "local_id": h.id, "pupil_local_id": h.pupil_id}
            for h in {h.id: h for h in ref.holdings}.values()
        ],
        ["station_pk", "local_id"],
        ["pupil_local_id"],
    )


def _pupil_resolver(
    s: Session, station: Station, events: Sequence[WireEvent]
) -> Callable[[WireEvent], int | None]:
    """Maps an event to the school's pupil row: by ``payload.pupil_id`` or its holding."""
    holding_ids = {ev.holding_id for ev in events if ev.holding_id is not None}
    holding_pupil: dict[int, int] = {}
    if holding_ids:
        holding_pupil = dict(
            s.execute(
                select(HoldingRef.local_id, HoldingRef.pupil_local_id).where(
                    HoldingRef.station_pk == station.id,
                    HoldingRef.local_id.in_(holding_ids),
                )
            ).all()
        )
    local: dict[int, int | None] = {}
    for ev in events:
        pid = ev.payload.get("pupil_id")
        if not isinstance(pid, int) and ev.holding_id is not None:
            pid = holding_pupil.get(ev.holding_id)
        local[ev.seq] = pid if isinstance(pid, int) else None
    wanted = {p for p in local.values() if p is not None}
    links: dict[int, int] = {}
    if wanted:
        links = dict(
            s.execute(
                select(PupilLink.local_id, PupilLink.pupil_pk).where(
                    PupilLink.station_pk == station.id, PupilLink.local_id.in_(wanted)
                )
            ).all()
        )

    def pupil_of(ev: WireEvent) -> int | None:
        pid = local[ev.seq]
        return links.get(pid) if pid is not None else None

    return pupil_of
