"""Writing a checked batch: reference data, events and the tray cases they raise.

:mod:`central.ingest` decides *what* to store (every check has passed by the time these run,
inside the transaction that holds the station's row lock); this module decides *how*, with
as few statements and round trips as the database allows, each a constant text that
SQLAlchemy compiles once and the driver can prepare once per connection:

* **PostgreSQL**: every table's rows go as one JSON document into an
  ``INSERT ... SELECT ... FROM json_to_recordset(...)``. Three statements per batch whatever
  its size: the reference data (staff, holdings and pupils in one statement), the pupil
  links, and the events together with the cases they raise and the station's new anchor
  (data-modifying CTEs: the events' new ids feed the cases without another round trip). The
  pupil an event concerns is found in the same statement from the links and holdings just
  written. A batch with no reference rows (the relay leaves out rows the central log
  acknowledged earlier in the same drain) needs only the third.
* **SQLite** (the embedded demo): the same upserts as cached executemany statements, and
  a select for the new events' ids.

Before (issue 12's first cut) each batch built multi-row ``VALUES`` statements whose shape
changed with the row count, so SQLAlchemy compiled them afresh every time (about a fifth of
the service's time), plus six more selects; see docs/BENCHMARKS.md, "Central log".

Reference data is written only when it changed (``WHERE ... IS DISTINCT FROM``), so a
re-sent batch rewrites nothing, and pupils are upserted in ``mis_id`` order, so two stations
of one school sending overlapping rolls lock the same rows in the same order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, Table, insert, or_, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from central.models import Case, Event, HoldingRef, Pupil, PupilLink, StaffRef, Station
from central.triage import tray_item
from wire import IngestBatch, WireEvent


def store_reference(s: Session, station: Station, batch: IngestBatch, now: datetime) -> None:
    """Names, year groups, staff and holdings as the kiosk knows them now (beside the chain)."""
    ref = batch.reference
    pupils = sorted({p.mis_id: p for p in ref.pupils}.values(), key=lambda p: p.mis_id)
    links = sorted({p.id: p for p in ref.pupils}.values(), key=lambda p: p.id)
    staff = sorted({m.id: m for m in ref.staff}.values(), key=lambda m: m.id)
    holdings = sorted({h.id: h for h in ref.holdings}.values(), key=lambda h: h.id)
    if _is_postgres(s):
        if pupils or staff or holdings:
            s.execute(
                _PG_REFERENCE,
                {
                    "station_pk": station.id,
                    "school_id": station.school_id,
                    "now": _naive_utc(now),
                    "staff": _json([{"id": m.id, "name": m.name, "roles": m.roles} for m in staff]),
                    "holdings": _json([{"id": h.id, "pupil": h.pupil_id} for h in holdings]),
                    "pupils": _json(
                        [
                            {
                                "mis_id": p.mis_id,
                                "given_name": p.given_name,
                                "family_name": p.family_name,
                                "year_group": p.year_group,
                            }
                            for p in pupils
                        ]
                    ),
                },
            )
        if links:
            # Its own statement: it must see the pupils just upserted, including a row
            # another station of the school inserted a moment ago (a CTE would not).
            s.execute(
                _PG_LINKS,
                {
                    "station_pk": station.id,
                    "school_id": station.school_id,
                    "links": _json([{"id": p.id, "mis_id": p.mis_id} for p in links]),
                },
            )
        return
    if pupils:
        s.execute(
            _upsert_statement("pupils"),
            [
                {
                    "school_id": station.school_id,
                    "mis_id": p.mis_id,
                    "given_name": p.given_name,
                    "family_name": p.family_name,
                    "year_group": p.year_group,
                    "updated_at": now,
                }
                for p in pupils
            ],
        )
        ids = dict(
            s.execute(
                select(Pupil.mis_id, Pupil.id).where(
                    Pupil.school_id == station.school_id,
                    Pupil.mis_id.in_([p.mis_id for p in pupils]),
                )
            ).all()
        )
        s.execute(
            _upsert_statement("pupil_links"),
            [
                {"station_pk": station.id, "local_id": p.id, "pupil_pk": ids[p.mis_id]}
                for p in links
            ],
        )
    if staff:
        s.execute(
            _upsert_statement("staff_refs"),
            [
                {"station_pk": station.id, "local_id": m.id, "name": m.name, "roles": m.roles}
                for m in staff
            ],
        )
    if holdings:
        s.execute(
            _upsert_statement("holding_refs"),
            [
                {"station_pk": station.id, "local_id": h.id, "pupil_local_id": h.pupil_id}
                for h in holdings
            ],
        )


def store_events(s: Session, station: Station, new: Sequence[WireEvent], now: datetime) -> None:
    """Append ``new`` (checked, consecutive) and open a tray case for each that raises one;
    move the station's anchor to the last of them and note it was seen ``now``.

    On PostgreSQL the station's row is updated by the same statement (one round trip fewer
    per batch; its ORM object is told the new values, so no UPDATE is flushed after it).
    """
    last = new[-1]
    pupil_local = [_pupil_local_id(ev) for ev in new]
    items = [(ev, item) for ev in new if (item := tray_item(ev.type, ev.payload))]
    if _is_postgres(s):
        events = [
            {
                "seq": ev.seq,
                "type": ev.type,
                "occurred_at": _naive_utc(datetime.fromisoformat(ev.occurred_at)).isoformat(),
                "occurred_at_text": ev.occurred_at,
                "actor_id": ev.actor_id,
                "holding_id": ev.holding_id,
                "payload": ev.payload,
                "prev_hash": ev.prev_hash,
                "hash": ev.hash,
                "pupil_local": pupil,
            }
            for ev, pupil in zip(new, pupil_local, strict=True)
        ]
        cases = [
            {
                "seq": ev.seq,
                "category": item.category,
                "title": item.title,
                "detail": _case_detail(ev),
            }
            for ev, item in items
        ]
        s.execute(
            _PG_EVENTS_AND_CASES,
            {
                "station_pk": station.id,
                "school_id": station.school_id,
                "now": _naive_utc(now),
                "events": _json(events),
                "cases": _json(cases),
                "anchor_seq": last.seq,
                "anchor_hash": last.hash,
            },
        )
        for name, value in (
            ("anchor_seq", last.seq),
            ("anchor_hash", last.hash),
            ("last_seen_at", now),
        ):
            set_committed_value(station, name, value)
        return
    station.anchor_seq = last.seq
    station.anchor_hash = last.hash
    station.last_seen_at = now
    pupil_of = _pupil_resolver(s, station, new, pupil_local)
    s.execute(
        insert(Event),
        [
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
                "pupil_pk": pupil_of[ev.seq],
            }
            for ev in new
        ],
    )
    if not items:
        return
    ids = dict(
        s.execute(
            select(Event.seq, Event.id).where(
                Event.station_pk == station.id, Event.seq >= new[0].seq
            )
        ).all()
    )
    s.execute(
        insert(Case),
        [
            {
                "school_id": station.school_id,
                "station_pk": station.id,
                "event_pk": ids[ev.seq],
                "pupil_pk": pupil_of[ev.seq],
                "category": item.category,
                "title": item.title,
                "detail": _case_detail(ev),
                "opened_at": datetime.fromisoformat(ev.occurred_at),
                "status": "untriaged",
                "dedupe_key": f"event:{ids[ev.seq]}",
            }
            for ev, item in items
        ],
    )


def _case_detail(ev: WireEvent) -> dict[str, Any]:
    return {"seq": ev.seq, "type": ev.type}


def _pupil_local_id(ev: WireEvent) -> int | None:
    """The station's pupil id the event names in its payload, if any (else its holding's)."""
    pid = ev.payload.get("pupil_id")
    return pid if isinstance(pid, int) else None


def _pupil_resolver(
    s: Session, station: Station, events: Sequence[WireEvent], pupil_local: list[int | None]
) -> dict[int, int | None]:
    """seq -> the school's pupil row: by ``payload.pupil_id``, else by the event's holding."""
    missing = {
        ev.holding_id
        for ev, pid in zip(events, pupil_local, strict=True)
        if pid is None and ev.holding_id is not None
    }
    holding_pupil: dict[int, int] = {}
    if missing:
        holding_pupil = dict(
            s.execute(
                select(HoldingRef.local_id, HoldingRef.pupil_local_id).where(
                    HoldingRef.station_pk == station.id, HoldingRef.local_id.in_(missing)
                )
            ).all()
        )
    local = {
        ev.seq: pid
        if pid is not None
        else (holding_pupil.get(ev.holding_id) if ev.holding_id is not None else None)
        for ev, pid in zip(events, pupil_local, strict=True)
    }
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
    return {seq: links.get(pid) if pid is not None else None for seq, pid in local.items()}


def _is_postgres(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def _naive_utc(moment: datetime) -> datetime:
    """What :class:`central.models.UTCDateTime` stores: UTC without a zone."""
    return moment.astimezone(UTC).replace(tzinfo=None)


# -- SQLite (the embedded demo): cached upserts ------------

_UPSERTS: dict[str, tuple[Table, list[str], list[str], list[str]]] = {
    # table: (table, conflict keys, columns updated, columns compared)
    "pupils": (
        Pupil.__table__,  # type: ignore[dict-item]
        ["school_id", "mis_id"],
        ["given_name", "family_name", "year_group", "updated_at"],
        # updated_at is not compared: it moves only when a name or year group does.
        ["given_name", "family_name", "year_group"],
    ),
    "pupil_links": (PupilLink.__table__, ["station_pk", "local_id"], ["pupil_pk"], ["pupil_pk"]),  # type: ignore[dict-item]
    "staff_refs": (
        StaffRef.__table__,  # type: ignore[dict-item]
        ["station_pk", "local_id"],
        ["name", "roles"],
        ["name", "roles"],
    ),
    "holding_refs": (
        HoldingRef.__table__,  # type: ignore[dict-item]
        ["station_pk", "local_id"],
        ["pupil_local_id"],
        ["pupil_local_id"],
    ),
}


@cache
def _upsert_statement(name: str) -> Insert:
    """``INSERT ... ON CONFLICT DO UPDATE ... WHERE changed``, built once per table so
    SQLAlchemy's compiled cache serves every batch after the first (executemany)."""
    table, keys, update, compared = _UPSERTS[name]
    ins = sqlite.insert(table)
    changed = or_(*(table.c[c].is_distinct_from(ins.excluded[c]) for c in compared))
    return ins.on_conflict_do_update(
        index_elements=keys, set_={c: ins.excluded[c] for c in update}, where=changed
    )


# -- PostgreSQL: one JSON array per table, json_to_recordset, three statements per batch ----
# Rows already held unchanged are filtered out before the INSERT (NOT EXISTS): ON CONFLICT
# DO UPDATE ... WHERE would skip rewriting them but still lock each one, and every batch of
# a station carries the same pupils and staff again.
# Rows travel as one JSON document per table (encoded by the json module's C encoder, parsed
# by PostgreSQL's), which costs a fraction of binding one array per column: psycopg quotes
# text arrays element by element in Python. JSON columns are compared as jsonb (PostgreSQL's
# json type has no equality).


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


_PG_REFERENCE = text(
    """
WITH staff AS (
    INSERT INTO staff_refs AS t (station_pk, local_id, name, roles)
    SELECT :station_pk, v.id, v.name, v.roles
    FROM json_to_recordset(CAST(:staff AS json)) AS v(id bigint, name text, roles json)
    WHERE NOT EXISTS (SELECT 1 FROM staff_refs o
                      WHERE o.station_pk = :station_pk AND o.local_id = v.id
                        AND o.name = v.name AND CAST(o.roles AS jsonb) = CAST(v.roles AS jsonb))
    ON CONFLICT (station_pk, local_id) DO UPDATE
        SET name = excluded.name, roles = excluded.roles
        WHERE t.name IS DISTINCT FROM excluded.name
           OR CAST(t.roles AS jsonb) IS DISTINCT FROM CAST(excluded.roles AS jsonb)
), holdings AS (
    INSERT INTO holding_refs AS t (station_pk, local_id, pupil_local_id)
    SELECT :station_pk, v.id, v.pupil
    FROM json_to_recordset(CAST(:holdings AS json)) AS v(id bigint, pupil bigint)
    WHERE NOT EXISTS (SELECT 1 FROM holding_refs o
                      WHERE o.station_pk = :station_pk AND o.local_id = v.id
                        AND o.pupil_local_id = v.pupil)
    ON CONFLICT (station_pk, local_id) DO UPDATE
        SET pupil_local_id = excluded.pupil_local_id
        WHERE t.pupil_local_id IS DISTINCT FROM excluded.pupil_local_id
)
INSERT INTO pupils AS t (school_id, mis_id, given_name, family_name, year_group, updated_at)
SELECT :school_id, v.mis_id, v.given_name, v.family_name, v.year_group, :now
FROM json_to_recordset(CAST(:pupils AS json))
    AS v(mis_id text, given_name text, family_name text, year_group text)
WHERE NOT EXISTS (SELECT 1 FROM pupils o
                  WHERE o.school_id = :school_id AND o.mis_id = v.mis_id
                    AND (o.given_name, o.family_name, o.year_group)
                        = (v.given_name, v.family_name, v.year_group))
ON CONFLICT (school_id, mis_id) DO UPDATE
    SET given_name = excluded.given_name, family_name = excluded.family_name,
        year_group = excluded.year_group, updated_at = excluded.updated_at
    WHERE (t.given_name, t.family_name, t.year_group)
          IS DISTINCT FROM (excluded.given_name, excluded.family_name, excluded.year_group)
"""
)

_PG_LINKS = text(
    """
INSERT INTO pupil_links AS t (station_pk, local_id, pupil_pk)
SELECT :station_pk, v.id, p.id
FROM json_to_recordset(CAST(:links AS json)) AS v(id bigint, mis_id text)
JOIN pupils p ON p.school_id = :school_id AND p.mis_id = v.mis_id
WHERE NOT EXISTS (SELECT 1 FROM pupil_links o
                  WHERE o.station_pk = :station_pk AND o.local_id = v.id AND o.pupil_pk = p.id)
ON CONFLICT (station_pk, local_id) DO UPDATE
    SET pupil_pk = excluded.pupil_pk
    WHERE t.pupil_pk IS DISTINCT FROM excluded.pupil_pk
"""
)

_PG_EVENTS_AND_CASES = text(
    """
WITH e AS (
    INSERT INTO events (station_pk, school_id, seq, type, occurred_at, occurred_at_text,
                        actor_id, holding_id, payload, prev_hash, hash, received_at, pupil_pk)
    SELECT :station_pk, :school_id, v.seq, v.type, v.occurred_at, v.occurred_at_text,
           v.actor_id, v.holding_id, v.payload, v.prev_hash, v.hash, :now,
           (SELECT l.pupil_pk FROM pupil_links l
            WHERE l.station_pk = :station_pk
              AND l.local_id = COALESCE(
                  v.pupil_local,
                  (SELECT h.pupil_local_id FROM holding_refs h
                   WHERE h.station_pk = :station_pk AND h.local_id = v.holding_id)))
    FROM json_to_recordset(CAST(:events AS json))
        AS v(seq bigint, type text, occurred_at timestamp, occurred_at_text text,
             actor_id bigint, holding_id bigint, payload json, prev_hash text, hash text,
             pupil_local bigint)
    RETURNING id, seq, pupil_pk, occurred_at
), station AS (
    UPDATE stations SET anchor_seq = :anchor_seq, anchor_hash = :anchor_hash, last_seen_at = :now
    WHERE id = :station_pk
)
INSERT INTO cases (school_id, station_pk, event_pk, pupil_pk, category, title, detail,
                   opened_at, status, dedupe_key)
SELECT :school_id, :station_pk, e.id, e.pupil_pk, c.category, c.title, c.detail,
       e.occurred_at, 'untriaged', 'event:' || e.id
FROM e JOIN json_to_recordset(CAST(:cases AS json))
    AS c(seq bigint, category text, title text, detail json) ON c.seq = e.seq
"""
)
