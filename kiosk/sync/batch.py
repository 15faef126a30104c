"""Building one :class:`wire.IngestBatch`: events as hashed, plus their reference data.

The central log shows "Y9 Sam Jones, locker A3, by Ms Patel" rather than bare ids, so each
batch carries the pupils, staff and lockers its events refer to, as the kiosk knows them
now. Reference data is mutable and travels beside the chain, never inside it (wire/schema).

What the ids come from: each event's ``actor_id`` (staff); its holding's pupil and locker;
and payload keys that name a pupil, member of staff, locker or contact (a contact is sent
as the pupil it belongs to: the wire has no contact record, and a carer's name is not
needed to read the log). Each holding is sent as whose it is (pupil id and kind), since
events about a holding carry only its id. Only the fields of :mod:`wire.schema`'s refs
are read: never a PIN hash, photo, ID detail or exemption.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Contact, Holding, Locker, Pupil, Staff
from kiosk.sync.outbox import PendingEvent
from wire import (
    HoldingRef,
    IngestBatch,
    LockerRef,
    PupilRef,
    ReferenceData,
    StaffRef,
    WireEvent,
)
from wire.chain import canonical_time

#: Payload keys whose value is an id (or a list of ids) of that kind of record.
#: Not "candidates": ``exam.opened`` carries a count there, which would name an unrelated pupil.
PUPIL_KEYS = frozenset({"pupil_id", "candidate_id"})
#: "staff" is the member of staff a ``staff.*`` / auth event is about (kiosk.auth, staff_admin,
#: mis_import), often not its actor.
STAFF_KEYS = frozenset({"staff", "staff_id", "technician", "technician_id", "by_id", "actor_id"})
LOCKER_KEYS = frozenset({"locker_id"})
CONTACT_KEYS = frozenset({"contact_id", "collector_contact_id"})
#: Payload keys holding a locker's label ("A3") rather than its id.
LOCKER_LABEL_KEYS = frozenset({"locker"})
_LABEL = re.compile(r"^([A-Za-z]+)(\d+)$")


def wire_event(ev: PendingEvent) -> WireEvent:
    """The event exactly as hashed: the time in the canonical form the digest covers."""
    return WireEvent(
        seq=ev.seq,
        type=ev.type,
        occurred_at=canonical_time(ev.occurred_at),
        actor_id=ev.actor_id,
        holding_id=ev.holding_id,
        payload=ev.payload,
        prev_hash=ev.prev_hash,
        hash=ev.hash,
    )


def _ids(value: Any) -> Iterable[int]:
    if isinstance(value, bool):
        return ()
    if isinstance(value, int):
        return (value,)
    if isinstance(value, list):
        return (v for v in value if isinstance(v, int) and not isinstance(v, bool))
    return ()


def reference_data(session: Session, events: list[PendingEvent]) -> ReferenceData:
    """The pupils, staff and lockers ``events`` refer to (those still on the kiosk)."""
    pupils: set[int] = set()
    staff: set[int] = set()
    lockers: set[int] = set()
    contacts: set[int] = set()
    labels: set[tuple[str, int]] = set()
    holdings: set[int] = set()
    for ev in events:
        if ev.actor_id is not None:
            staff.add(ev.actor_id)
        if ev.holding_id is not None:
            holdings.add(ev.holding_id)
        for key, value in ev.payload.items():
            if key in PUPIL_KEYS:
                pupils.update(_ids(value))
            elif key in STAFF_KEYS:
                staff.update(_ids(value))
            elif key in LOCKER_KEYS:
                lockers.update(_ids(value))
            elif key in CONTACT_KEYS:
                contacts.update(_ids(value))
            elif key in LOCKER_LABEL_KEYS and isinstance(value, str):
                match = _LABEL.match(value)
                if match:
                    labels.add((match[1], int(match[2])))
    holding_refs: list[HoldingRef] = []
    if holdings:
        for hid, pupil_id, locker_id, kind in session.execute(
            select(Holding.id, Holding.pupil_id, Holding.locker_id, Holding.kind)
            .where(Holding.id.in_(holdings))
            .order_by(Holding.id)
        ):
            if pupil_id is not None:
                pupils.add(pupil_id)
                holding_refs.append(HoldingRef(id=hid, pupil_id=pupil_id, kind=kind))
            if locker_id is not None:
                lockers.add(locker_id)
    if contacts:
        pupils.update(session.scalars(select(Contact.pupil_id).where(Contact.id.in_(contacts))))
    locker_refs: list[LockerRef] = []
    if lockers or labels:
        for lid, bank, number in session.execute(
            select(Locker.id, Locker.bank, Locker.number).order_by(Locker.id)
        ):
            if lid in lockers or (bank, number) in labels:
                locker_refs.append(LockerRef(id=lid, bank=bank, number=number))
    pupil_refs = (
        [
            PupilRef(id=i, mis_id=m, given_name=g, family_name=f, year_group=y)
            for i, m, g, f, y in session.execute(
                select(
                    Pupil.id, Pupil.mis_id, Pupil.given_name, Pupil.family_name, Pupil.year_group
                )
                .where(Pupil.id.in_(pupils))
                .order_by(Pupil.id)
            )
        ]
        if pupils
        else []
    )
    staff_refs = (
        [
            StaffRef(id=i, name=n, roles=list(r or []))
            for i, n, r in session.execute(
                select(Staff.id, Staff.name, Staff.roles)
                .where(Staff.id.in_(staff))
                .order_by(Staff.id)
            )
        ]
        if staff
        else []
    )
    return ReferenceData(
        pupils=pupil_refs, staff=staff_refs, lockers=locker_refs, holdings=holding_refs
    )


def build_batch(session: Session, station_id: str, events: list[PendingEvent]) -> IngestBatch:
    """One batch of consecutive events and their reference data (raises pydantic errors)."""
    return IngestBatch(
        station_id=station_id,
        events=[wire_event(ev) for ev in events],
        reference=reference_data(session, events),
    )
