"""Rebuild custody state from the event log and name every table row the events do not explain.

Why: the hash chain proves the *events* are untouched, but a holding's state, pupil, locker
and collector, a locker's state, a member of staff's roles and a contact's collection flags
live in ordinary tables. ``UPDATE holdings SET state='released'`` made a safeguarding hold
vanish while ``kiosk audit verify`` still said OK (issue 9, "The chain carries the facts").
Every event that changes those rows therefore carries the facts *by id* (never names or free
text, so retention can remove people without touching the chain), and this module folds the
events, in insertion order, into projections and compares them with the tables.

Rules of the fold (:func:`apply_event`):

* ``holding.depositing``: a new holding (``pupil_id``, ``locker_id`` from the payload),
  state ``depositing``; its locker becomes ``occupied``.
* ``holding.<state>``: the holding's state becomes ``<state>`` (``pupil_id``/``locker_id``
  repeated in the payload are taken too); ``collector_kind``/``collector_contact_id`` when the
  payload has them (``releasing``). A closing state (released, handed to police, aborted)
  frees its locker when the locker is ``occupied`` and no other open holding is in it, the
  same rule as ``UseCases._free_locker_if_empty``.
* ``locker.state``, ``hardware.test_unlock`` and ``hardware.test_unlock_result`` (a test
  pulse reserves the locker as ``testing`` and gives it back): ``locker_id`` takes ``state``
  (older test events carry neither and change nothing). ``lockers.synced``: ``lockers`` maps every
  locker id to its state after the sync.
* ``staff.*`` events with ``roles``: that member's roles; ``staff.deactivated``: inactive.
* ``import.<kind>`` events carry ``facts``: ``{"set": {id: row facts}, "removed": [ids]}``, the
  difference the import made to pupils' exemptions, contacts' flags or staff roles/active.
* ``subject.erased``: the pupil's exemptions are emptied and their contacts go.
* ``retention.purged`` with a ``snapshot``: the projections are *replaced* by it; so does
  an ``audit.baseline`` (:func:`record_baseline`, ``kiosk audit baseline``: once, for a
  ledger whose rows predate these facts).

Retention (decision): a purge deletes the oldest events, so rows created by them (lockers,
contacts, staff, old holdings) would be unexplained afterwards. The purge therefore writes a
``snapshot`` into its own ``retention.purged`` event: the projection *as replayed from the
events* (not read from the tables, so a tampered row is not laundered by the purge),
restricted to the rows still present after the purge. It holds ids, states, flags, roles and
exemption categories only, nothing that identifies a person. Replay resets to the newest
snapshot when it reaches it; events after it apply on top.

Comparison (:func:`unexplained`): every table row whose facts differ from the projection, or
which the projection does not know, is named (table, id, column). A projected row missing
from its table is fine (retention and erasure delete rows) except an *open* holding: nothing
deletes a phone still in custody. A holding's ``pupil_id`` or ``collector_contact_id`` that
the table holds as NULL is explained when the row the events name is gone (the foreign key's
``ON DELETE SET NULL``: a purged pupil, a contact replaced by an import).

Streaming: events are read in id order a batch at a time; only the projection dicts are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.audit import PURGE_EVENT, append_event
from db.models import Contact, Event, Holding, Locker, Pupil, Staff
from wire.vocabulary import EventType, HoldingState, LockerState

Row = dict[str, Any]
Table = dict[int, Row]
Projection = dict[str, Table]

TABLES = ("holdings", "lockers", "staff", "contacts", "pupils")
OPEN = {
    HoldingState.DEPOSITING,
    HoldingState.HELD,
    HoldingState.RELEASING,
    HoldingState.SAFEGUARDING_HOLD,
}
#: Events that set one locker's state from ``locker_id`` and ``state`` in their payload.
LOCKER_STATE_EVENTS = {
    EventType.LOCKER_STATE,
    EventType.HARDWARE_TEST_UNLOCK,
    EventType.HARDWARE_TEST_UNLOCK_RESULT,
}
CLOSING = {HoldingState.RELEASED, HoldingState.HANDED_TO_POLICE, HoldingState.ABORTED}
BATCH = 2000
#: A facts baseline (:func:`record_baseline`): replay restarts from its snapshot.
BASELINE_EVENT = "audit.baseline"
#: Columns the database itself sets to NULL when the row they name is deleted.
NULLED_BY_DELETE = {
    ("holdings", "pupil_id"): "pupils",
    ("holdings", "collector_contact_id"): "contacts",
}


def empty() -> Projection:
    return {t: {} for t in TABLES}


# ---------------------------------------------------------------------------- table side
def table_facts(session: Session, tables: Iterable[str] = TABLES) -> Projection:
    """The facts the events must explain, read from the tables, in the projection's shape."""
    out = empty()
    wanted = set(tables)
    if "holdings" in wanted:
        for hid, state, pupil, locker, kind, contact in session.execute(
            select(
                Holding.id,
                Holding.state,
                Holding.pupil_id,
                Holding.locker_id,
                Holding.collector_kind,
                Holding.collector_contact_id,
            )
        ):
            out["holdings"][hid] = {
                "state": str(state),
                "pupil_id": pupil,
                "locker_id": locker,
                "collector_kind": kind,
                "collector_contact_id": contact,
            }
    if "lockers" in wanted:
        for lid, locker_state in session.execute(select(Locker.id, Locker.state)):
            out["lockers"][lid] = {"state": str(locker_state)}
    if "staff" in wanted:
        for sid, roles, active in session.execute(select(Staff.id, Staff.roles, Staff.active)):
            out["staff"][sid] = {"roles": sorted(roles or []), "active": bool(active)}
    if "contacts" in wanted:
        for cid, pupil, may, pr in session.execute(
            select(
                Contact.id, Contact.pupil_id, Contact.may_collect, Contact.parental_responsibility
            )
        ):
            out["contacts"][cid] = {
                "pupil_id": pupil,
                "may_collect": bool(may),
                "parental_responsibility": bool(pr),
            }
    if "pupils" in wanted:
        for pid, exemptions in session.execute(select(Pupil.id, Pupil.exemptions)):
            out["pupils"][pid] = {"exemptions": sorted(exemptions or [])}
    return out


def diff_facts(before: Table, after: Table) -> dict[str, Any]:
    """What an import changed, for its event: ``{"set": {id: row}, "removed": [ids]}``."""
    return {
        "set": {str(k): v for k, v in sorted(after.items()) if before.get(k) != v},
        "removed": sorted(k for k in before if k not in after),
    }


#: The table an ``import.<kind>`` changes.
IMPORT_TABLE = {"pupils": "pupils", "contacts": "contacts", "staff": "staff"}


# ---------------------------------------------------------------------------- the fold
def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _holding(p: Projection, hid: int) -> Row:
    return p["holdings"].setdefault(
        hid,
        {
            "state": None,
            "pupil_id": None,
            "locker_id": None,
            "collector_kind": None,
            "collector_contact_id": None,
        },
    )


#: The projection's index (not a table): locker id -> ids of the open holdings in it, so
#: freeing a locker is not a scan of every holding (a scan made replay quadratic: 1,356
#: events/s at 80k events). Rebuilt whenever the holdings are replaced by a snapshot.
INDEX = "_open_in"


def _open_in(p: Projection) -> dict[int, set[int]]:
    index: dict[int, set[int]] | None = p.get(INDEX)  # type: ignore[assignment]
    if index is None:
        index = {}
        for hid, h in p["holdings"].items():
            if h["state"] in OPEN and h["locker_id"] is not None:
                index.setdefault(h["locker_id"], set()).add(hid)
        p[INDEX] = index  # type: ignore[assignment]
    return index


def _free_if_empty(p: Projection, locker_id: int | None) -> None:
    if locker_id is None:
        return
    locker = p["lockers"].get(locker_id)
    if locker is None or locker["state"] != LockerState.OCCUPIED:
        return
    if not _open_in(p).get(locker_id):
        locker["state"] = LockerState.FREE.value


def apply_event(p: Projection, type_: str, holding_id: int | None, payload: dict[str, Any]) -> None:
    """Fold one event into ``p`` (the rules are in the module docstring)."""
    if type_.startswith("holding.") and holding_id is not None:
        state = type_.split(".", 1)[1]
        if state not in {s.value for s in HoldingState}:
            return
        h = _holding(p, holding_id)
        index = _open_in(p)
        if h["locker_id"] is not None:
            index.get(h["locker_id"], set()).discard(holding_id)
        h["state"] = state
        for key in ("pupil_id", "locker_id"):
            if key in payload:
                h[key] = _int(payload[key])
        if "collector_kind" in payload:
            h["collector_kind"] = payload["collector_kind"]
            h["collector_contact_id"] = _int(payload.get("collector_contact_id"))
        if state in OPEN and h["locker_id"] is not None:
            index.setdefault(h["locker_id"], set()).add(holding_id)
        if state == HoldingState.DEPOSITING and h["locker_id"] is not None:
            p["lockers"].setdefault(h["locker_id"], {})["state"] = LockerState.OCCUPIED.value
        if state in CLOSING:
            _free_if_empty(p, h["locker_id"])
    elif type_ in LOCKER_STATE_EVENTS and "locker_id" in payload and "state" in payload:
        p["lockers"][int(payload["locker_id"])] = {"state": payload["state"]}
    elif type_ == "lockers.synced" and "lockers" in payload:
        for lid, state in payload["lockers"].items():
            p["lockers"][int(lid)] = {"state": state}
    elif type_.startswith("staff.") and "staff" in payload:
        sid = int(payload["staff"])
        row = p["staff"].setdefault(sid, {"roles": [], "active": True})
        if "roles" in payload:
            row["roles"] = sorted(payload["roles"])
        if type_ == "staff.deactivated":
            row["active"] = False
    elif type_.startswith("import.") and "facts" in payload:
        table = IMPORT_TABLE.get(type_.split(".", 1)[1])
        if table is not None:
            facts = payload["facts"]
            for rid, row in facts.get("set", {}).items():
                p[table][int(rid)] = dict(row)
            for rid in facts.get("removed", []):
                p[table].pop(int(rid), None)
    elif type_ == "subject.erased" and "pupil_id" in payload:
        pid = int(payload["pupil_id"])
        if pid in p["pupils"]:
            p["pupils"][pid]["exemptions"] = []
        for cid in [c for c, row in p["contacts"].items() if row["pupil_id"] == pid]:
            del p["contacts"][cid]
    elif type_ in (PURGE_EVENT, BASELINE_EVENT) and "snapshot" in payload:
        snap = payload["snapshot"]
        for table in TABLES:
            p[table] = {int(k): dict(v) for k, v in snap.get(table, {}).items()}
        p.pop(INDEX, None)


def _events(session: Session) -> Iterator[tuple[str, int | None, dict[str, Any]]]:
    rows = session.execute(
        select(Event.type, Event.holding_id, Event.payload)
        .order_by(Event.id)
        .execution_options(yield_per=BATCH)
    )
    try:
        for type_, holding_id, payload in rows:
            yield type_, holding_id, payload or {}
    finally:
        rows.close()


def replay(session: Session) -> Projection:
    """Every event in insertion order, folded; memory is the projections only."""
    p = empty()
    for type_, holding_id, payload in _events(session):
        apply_event(p, type_, holding_id, payload)
    return p


def snapshot(session: Session) -> dict[str, Any]:
    """For a retention purge's event: the replayed projection of the rows still present."""
    p = replay(session)
    present = table_facts(session)
    return {
        table: {str(k): v for k, v in sorted(p[table].items()) if k in present[table]}
        for table in TABLES
    }


def record_baseline(
    session: Session, *, station_id: str, now: datetime, actor_id: int | None = None
) -> None:
    """Vouch for the tables as they are now (ids, states, flags, roles only) in an
    ``audit.baseline`` event. For a ledger whose rows predate these facts (an upgrade, once):
    it explains whatever the tables hold at that moment, so run it only on a ledger that
    verified before, and the event says who did it. The caller commits."""
    facts = table_facts(session)
    append_event(
        session,
        station_id=station_id,
        type=BASELINE_EVENT,
        occurred_at=now,
        actor_id=actor_id,
        payload={"snapshot": {t: {str(k): v for k, v in sorted(facts[t].items())} for t in TABLES}},
    )


# ---------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class Unexplained:
    table: str
    row_id: int
    column: str
    table_value: Any
    events_value: Any

    def __str__(self) -> str:
        return (
            f"{self.table} id {self.row_id}: {self.column} is {self.table_value!r} but the "
            f"events say {self.events_value!r}"
        )


def unexplained(session: Session) -> list[Unexplained]:
    """Every row (table, id, column) whose facts the event log does not explain."""
    projected = replay(session)
    actual = table_facts(session)
    problems: list[Unexplained] = []
    for table in TABLES:
        proj = projected[table]
        for rid, row in sorted(actual[table].items()):
            want = proj.get(rid)
            if want is None:
                problems.append(Unexplained(table, rid, "(row)", "present", "no such row"))
                continue
            for column, value in row.items():
                if column not in want or want[column] == value:
                    continue
                target = NULLED_BY_DELETE.get((table, column))
                if value is None and target is not None and want[column] not in actual[target]:
                    continue  # ON DELETE SET NULL: the row it named was purged or erased
                problems.append(Unexplained(table, rid, column, value, want[column]))
        if table == "holdings":
            for rid, row in sorted(proj.items()):
                if rid not in actual[table] and row["state"] in OPEN:
                    problems.append(
                        Unexplained(table, rid, "(row)", "missing", f"open ({row['state']})")
                    )
    return problems
